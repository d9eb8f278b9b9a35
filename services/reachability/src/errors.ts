/**
 * Named errors of the reachability service. Each keeps the original failure in `cause`. The
 * caller-facing ones are @vexxy/platform error kinds, so the server's error interceptor gives
 * them their Connect code (InvalidArgument, NotFound, FailedPrecondition) and message.
 */
import { Code } from "@connectrpc/connect";
import { InvalidFieldError, VexxyError, type VexxyErrorOptions } from "@vexxy/platform";

/**
 * The vulnerability report cannot be read: not JSON, an unknown format, or a field of the
 * wrong shape. `field` names the offending field (e.g. `vulnerability_report.matches[2].artifact.name`)
 * and the message starts with it, so the customer can fix the report. InvalidArgument at an RPC edge.
 */
export class ScanFormatError extends InvalidFieldError {
  constructor(field: string, problem: string, options: VexxyErrorOptions = {}) {
    super(field, `${field}: ${problem}`, options);
  }
}

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
