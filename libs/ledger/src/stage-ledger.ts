/**
 * The idempotency seam: each service that must not repeat work keeps a small table, keyed by
 * (job id, stage, attempt), in its own Postgres schema. A redelivered event finds its row and
 * the handler re-publishes the recorded outcome instead of doing the work again.
 */
export type StageState = "started" | "done" | "failed" | "cancelled" | "interrupted";

export interface StageRecord {
  readonly jobId: string;
  readonly stage: string;
  readonly attempt: number;
  readonly state: StageState;
  /** JSON the stage chose to keep (its outcome, keys of what it wrote). */
  readonly outcome: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface StageLedger {
  /**
   * Claims (jobId, stage, attempt). Returns { claimed: true } the first time; afterwards
   * { claimed: false, record } with what the first claimant recorded. Atomic across processes.
   */
  claim(jobId: string, stage: string, attempt: number): Promise<{ claimed: boolean; record: StageRecord }>;
  /** Sets the state and outcome of a claimed row. */
  update(jobId: string, stage: string, attempt: number, state: StageState, outcome?: Record<string, unknown>): Promise<StageRecord>;
  /** The row, or undefined. */
  get(jobId: string, stage: string, attempt: number): Promise<StageRecord | undefined>;
  /** Rows of a job (all stages and attempts), oldest first. */
  listByJob(jobId: string): Promise<StageRecord[]>;
  /** Rows in a state (e.g. "started" at start-up, to find interrupted work). */
  listByState(state: StageState): Promise<StageRecord[]>;
  close(): Promise<void>;
}
