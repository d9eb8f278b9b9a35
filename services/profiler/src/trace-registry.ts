/**
 * The live trace sessions of this process, by job attempt. Only this process can stop them: with
 * replicas, StartTrace answers with this process's instance id, the sandbox names it in
 * sandbox.completed, and this process's fan-out consumer finishes the trace (see
 * events/sandbox-events-consumer.ts).
 */
import { Subjects } from "@vexxy/events";
import type { ProgressCodec, StageRecordFormat } from "@vexxy/stage";
import type { TraceSession } from "./tracer/tracer.js";

/** The ledger stage of a job attempt's trace (claimed by StartTrace, finished by sandbox.completed). */
export const TRACE_STAGE = "trace";

/** What a trace row notes once the tracer attached: where it traces. */
export interface TraceProgress {
  readonly containerId: string;
  readonly scope: "host_cgroup" | "container";
  /** host_cgroup: the cgroup v2 directory; container: the node and the runtime's container id. */
  readonly cgroupPath?: string;
  readonly node?: string;
  readonly runtimeContainerId?: string;
  readonly attachSeconds: number;
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** Reads TraceProgress back from a row. */
export const traceProgress: ProgressCodec<TraceProgress> = (json) => {
  const containerId = text(json["containerId"]);
  if (containerId === undefined) return undefined;
  const optional = (key: "cgroupPath" | "node" | "runtimeContainerId") => {
    const value = text(json[key]);
    return value !== undefined ? { [key]: value } : {};
  };
  return {
    containerId,
    scope: json["scope"] === "container" ? "container" : "host_cgroup",
    ...optional("cgroupPath"),
    ...optional("node"),
    ...optional("runtimeContainerId"),
    attachSeconds: typeof json["attachSeconds"] === "number" ? json["attachSeconds"] : 0,
  };
};

/** A done trace row records the profile.ready event (rows before the typed outcome: a JSON string under "ready"). */
export const TRACE_RECORD_FORMAT: StageRecordFormat<typeof Subjects.profileReady, TraceProgress> = {
  done: Subjects.profileReady,
  progress: traceProgress,
  legacyEventKey: "ready",
};

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
