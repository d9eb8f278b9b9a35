/**
 * The live trace sessions of this process, by job attempt. Only this process can stop them: with
 * replicas, StartTrace answers with this process's instance id, the sandbox names it in
 * sandbox.completed, and this process's fan-out consumer finishes the trace (see
 * events/sandbox-events-consumer.ts).
 */
import { Subjects } from "@vexxy/events";
import type { StageRecordFormat } from "@vexxy/stage";
import type { TraceSession } from "./tracer/tracer.js";

/** The ledger stage of a job attempt's trace (claimed by StartTrace, finished by sandbox.completed). */
export const TRACE_STAGE = "trace";

/** A done trace row records the profile.ready event (rows before the typed outcome: a JSON string under "ready"). */
export const TRACE_RECORD_FORMAT: StageRecordFormat<typeof Subjects.profileReady, never> = { done: Subjects.profileReady, legacyEventKey: "ready" };

export class TraceRegistry {
  private readonly sessions = new Map<string, TraceSession>();

  private key(jobId: string, attempt: number): string {
    return `${jobId}#${attempt}`;
  }

  get(jobId: string, attempt: number): TraceSession | undefined {
    return this.sessions.get(this.key(jobId, attempt));
  }

  set(session: TraceSession): void {
    this.sessions.set(this.key(session.scope.jobId, session.scope.attempt), session);
  }

  /** Removes and returns the session. */
  take(jobId: string, attempt: number): TraceSession | undefined {
    const k = this.key(jobId, attempt);
    const s = this.sessions.get(k);
    this.sessions.delete(k);
    return s;
  }

  /** Every live session (for shutdown). */
  all(): TraceSession[] {
    return [...this.sessions.values()];
  }
}
