/**
 * The one ingestion step every tracer goes through: a stopped trace (neutral uses by file
 * identity, plus its completeness signals) becomes the raw-events artifact (Tracee-shaped, so
 * that a production Tracee stream and a local trace read alike) and the ExecutionProfile.
 * Nothing here depends on which tracer recorded the trace.
 */
import type { ExecutionProfile, WorkloadOutcome } from "@vexxy/proto";
import type { TraceResult, TraceScope } from "../tracer/tracer.js";
import { toTraceeEvents, type TraceeEvent } from "../tracee/tracee-event.js";
import { buildProfile } from "./build-profile.js";

/** How the traced run ended, as the sandbox reported it. */
export interface TracedRun {
  readonly outcome: WorkloadOutcome;
  readonly durationSeconds: number;
}

/** Builds the raw events and the profile of a stopped trace; the profile is complete only when the trace reported no loss. */
export function profileFromTrace(result: TraceResult, scope: TraceScope, run: TracedRun): { events: TraceeEvent[]; profile: ExecutionProfile } {
  const events = toTraceeEvents(result, scope);
  const profile = buildProfile(events, {
    jobId: scope.jobId,
    attempt: scope.attempt,
    tracer: result.tracer,
    containerId: scope.containerId,
    lossReasons: result.lossReasons,
    outcome: run.outcome,
    durationSeconds: run.durationSeconds,
    identity: result.identity,
    untracedChannelAttempts: result.channelAttempts,
    diagnostics: result.diagnostics,
  });
  return { events, profile };
}
