/**
 * Named errors of the reachability service. Each keeps the original failure in `cause`; the
 * RPC edge (toConnectError) and the event consumer map them to codes and failure events.
 */

/**
 * The vulnerability report cannot be read: not JSON, an unknown format, or a field of the
 * wrong shape. `field` names the offending field (e.g. `vulnerability_report.matches[2].artifact.name`),
 * and the message starts with it, so the customer can fix the report.
 */
export class ScanFormatError extends Error {
  readonly field: string;

  constructor(field: string, problem: string, options?: { cause?: unknown }) {
    super(`${field}: ${problem}`, options);
    this.name = "ScanFormatError";
    this.field = field;
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
export class VerdictsNotFoundError extends Error {
  readonly jobId: string;
  readonly states: readonly string[];

  constructor(jobId: string, states: readonly string[] = [], options?: { cause?: unknown }) {
    super(
      states.includes("started")
        ? `job_id: the verdicts of job ${jobId} are still being computed`
        : states.length > 0
          ? `job_id: job ${jobId} has no verdicts (reachability ${states.join(", ")})`
          : `job_id: no verdicts for job ${jobId}`,
      options,
    );
    this.name = "VerdictsNotFoundError";
    this.jobId = jobId;
    this.states = states;
  }
}

/** A request field is invalid; `field` names it. */
export class InvalidRequestError extends Error {
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = "InvalidRequestError";
    this.field = field;
  }
}
