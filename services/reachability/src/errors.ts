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

/** No verdicts were recorded for the job (never scored, or still running). */
export class VerdictsNotFoundError extends Error {
  readonly jobId: string;

  constructor(jobId: string, options?: { cause?: unknown }) {
    super(`no verdicts for job ${jobId}`, options);
    this.name = "VerdictsNotFoundError";
    this.jobId = jobId;
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
