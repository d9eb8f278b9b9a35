/**
 * Named errors of the reachability service. Each keeps the original failure in `cause`. The
 * caller-facing ones are @vexxy/platform error kinds, so the server's error interceptor gives
 * them their Connect code (InvalidArgument, NotFound, FailedPrecondition) and message.
 */
import { Code } from "@connectrpc/connect";
import { VexxyError, type VexxyErrorOptions } from "@vexxy/platform";

/** The report-reading error lives with the parsers in @vexxy/scan-report; re-exported for callers of this package. */
export { ScanFormatError } from "@vexxy/scan-report";

/** An input artifact (catalogue or profile) could not be decoded; `artifact` names which. */
export class ArtifactDecodeError extends Error {
  readonly artifact: string;

  constructor(artifact: string, message: string, options?: { cause?: unknown }) {
    super(`${artifact}: ${message}`, options);
    this.name = "ArtifactDecodeError";
    this.artifact = artifact;
  }
}

/**
 * No verdicts are recorded for the job. `states` are the job's reachability ledger states:
 * empty (never scored: NotFound), or "started"/"failed"/"cancelled" (FailedPrecondition).
 */
export class VerdictsNotFoundError extends VexxyError {
  readonly jobId: string;
  readonly states: readonly string[];

  constructor(jobId: string, states: readonly string[] = [], options: VexxyErrorOptions = {}) {
    super(
      states.includes("started")
        ? `job_id: the verdicts of job ${jobId} are still being computed`
        : states.length > 0
          ? `job_id: job ${jobId} has no verdicts (reachability ${[...new Set(states)].join(", ")})`
          : `job_id: no verdicts for job ${jobId}`,
      states.length === 0 ? Code.NotFound : Code.FailedPrecondition,
      options,
    );
    this.jobId = jobId;
    this.states = states;
  }
}
