/**
 * Whether a traced run may back a "not reached" claim. Only a complete trace (tracer attached
 * before start, did not die, lost nothing) of a run that ended normally (exited 0, or still
 * serving at the timeout) may; anything else leaves untouched packages under investigation.
 */
import { WorkloadOutcome, type ExecutionProfile } from "@vexxy/proto";

/** The verdict the trace allows for untouched packages, and why not when it does not. */
export interface TraceAssessment {
  readonly sufficient: boolean;
  /** Sentences a security engineer can check; empty when sufficient. */
  readonly gaps: readonly string[];
}

const OUTCOME_WORDS: Readonly<Record<WorkloadOutcome, string>> = {
  [WorkloadOutcome.UNSPECIFIED]: "an unrecorded outcome",
  [WorkloadOutcome.EXITED_OK]: "exit status 0",
  [WorkloadOutcome.EXITED_ERROR]: "a non-zero exit status or a signal",
  [WorkloadOutcome.TIMEOUT_RUNNING]: "still running at the timeout",
  [WorkloadOutcome.LIMIT_KILLED]: "killed for exceeding a resource limit",
};

/** How the workload ended, in words. */
export function describeOutcome(outcome: WorkloadOutcome): string {
  return OUTCOME_WORDS[outcome] ?? `outcome ${outcome}`;
}

/** Assesses a profile. Never throws. */
export function assessTrace(profile: ExecutionProfile): TraceAssessment {
  const gaps: string[] = [];
  if (!profile.complete) gaps.push(`the ${profile.tracer || "tracer"} trace is marked incomplete`);
  // Quoted as the tracer wrote them: unattributed, untraced_channel:*, scope_left, map_full:* ...
  for (const reason of profile.lossReasons) gaps.push(`trace loss: ${reason}`);
  if (profile.outcome !== WorkloadOutcome.EXITED_OK && profile.outcome !== WorkloadOutcome.TIMEOUT_RUNNING) {
    gaps.push(`the workload ended with ${describeOutcome(profile.outcome)}, so it may have stopped before reaching code it would normally run`);
  }
  if (!profile.files.some((access) => access.access === "exec") && !profile.uses.some((use) => use.access === "exec" || use.access === "exec_script")) {
    gaps.push("the trace recorded no executed file, so it cannot show what ran");
  }
  return { sufficient: gaps.length === 0, gaps };
}
