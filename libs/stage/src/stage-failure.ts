/**
 * How a stage says that a job attempt cannot succeed here: one failure type for every stage.
 * The lifecycle records it in the ledger and publishes it; it is never retried by redelivery.
 */

/** A failure the stage reports instead of retrying the delivery. */
export class StageFailure extends Error {
  /** The work was lost with a process (recorded "interrupted", not "failed"). */
  readonly interrupted: boolean;

  /**
   * @param reason machine-readable cause, e.g. "invalid_vulnerability_report", "trace_lost"
   * @param message what happened, for people (names the field or object at fault)
   * @param retryable whether a new attempt of the job could succeed (the orchestrator re-drives it)
   */
  constructor(
    readonly reason: string,
    message: string,
    readonly retryable: boolean,
    options: { cause?: unknown; interrupted?: boolean } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "StageFailure";
    this.interrupted = options.interrupted === true;
  }
}

/**
 * The attempt was cancelled while its work ran: whoever cancelled it recorded that, so the
 * lifecycle records and publishes nothing more.
 */
export class StageCancelled extends Error {
  constructor(readonly reason: string) {
    super(`cancelled: ${reason}`);
    this.name = "StageCancelled";
  }
}
