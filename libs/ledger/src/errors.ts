/** The named errors of the ledger and of openOrm. */

/** A bad databaseUrl or schema name; the message names the setting. */
export class LedgerConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LedgerConfigError";
  }
}

/** Connecting or running migrations failed; the cause is the driver's error. */
export class LedgerMigrationError extends Error {
  readonly schema: string;
  constructor(schema: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LedgerMigrationError";
    this.schema = schema;
  }
}

/** update() of (job, stage, attempt) that nobody claimed. */
export class StageNotClaimedError extends Error {
  readonly jobId: string;
  readonly stage: string;
  readonly attempt: number;
  constructor(jobId: string, stage: string, attempt: number) {
    super(`stage ${stage} attempt ${attempt} of job ${jobId} was never claimed`);
    this.name = "StageNotClaimedError";
    this.jobId = jobId;
    this.stage = stage;
    this.attempt = attempt;
  }
}

/** A claim or update with arguments that can never be stored (empty ids, bad attempt, unknown state). */
export class InvalidStageKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidStageKeyError";
  }
}
