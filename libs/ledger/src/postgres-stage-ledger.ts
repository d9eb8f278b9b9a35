/**
 * The StageLedger on Postgres through MikroORM: the `stage_run` table in the service's own
 * schema. claim() is one `INSERT … ON CONFLICT DO NOTHING` — the primary key decides the winner
 * atomically across processes — followed by a read of the row, so a loser gets what the
 * winner recorded.
 */
import type { MikroORM } from "@mikro-orm/postgresql";
import { InvalidStageKeyError, StageNotClaimedError } from "./errors.js";
import type { LedgerLogger } from "./logger.js";
import { stageLedgerMigrations } from "./migrations/index.js";
import { openOrm } from "./open-orm.js";
import { STAGE_STATES, StageRun, type IStageRun } from "./stage-run-entity.js";
import type { StageLedger, StageRecord, StageState } from "./stage-ledger.js";

export interface OpenStageLedgerOptions {
  /** postgres:// URL (DATABASE_URL). */
  readonly databaseUrl: string;
  /** The service's schema: orchestrator, sandbox, profiler, reachability or vex. */
  readonly schema: string;
  readonly logger?: LedgerLogger;
}

/**
 * Opens the ledger on `schema`, creating the schema and `stage_run` by migration when absent.
 * Throws LedgerConfigError for a bad URL or schema, LedgerMigrationError when the database is
 * unreachable or a migration fails.
 */
export async function openStageLedger(options: OpenStageLedgerOptions): Promise<StageLedger> {
  const orm = await openOrm({
    databaseUrl: options.databaseUrl,
    schema: options.schema,
    entities: [StageRun],
    migrations: stageLedgerMigrations,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return new PostgresStageLedger(orm);
}

class PostgresStageLedger implements StageLedger {
  constructor(private readonly orm: MikroORM) {}

  async claim(jobId: string, stage: string, attempt: number): Promise<{ claimed: boolean; record: StageRecord }> {
    checkKey(jobId, stage, attempt);
    const em = this.orm.em.fork();
    const now = new Date();
    const result = await em
      .createQueryBuilder(StageRun)
      .insert({ jobId, stage, attempt, state: "started", outcome: {}, createdAt: now, updatedAt: now })
      .onConflict(["jobId", "stage", "attempt"])
      .ignore()
      .execute("run");
    const row = await em.findOne(StageRun, { jobId, stage, attempt });
    // The row can only vanish if someone deletes ledger rows by hand; never report a claim then.
    if (row === null) throw new StageNotClaimedError(jobId, stage, attempt);
    return { claimed: result.affectedRows === 1, record: toRecord(row) };
  }

  async update(jobId: string, stage: string, attempt: number, state: StageState, outcome?: Record<string, unknown>): Promise<StageRecord> {
    checkKey(jobId, stage, attempt);
    if (!STAGE_STATES.includes(state)) throw new InvalidStageKeyError(`state ${JSON.stringify(state)} is not one of ${STAGE_STATES.join(", ")}`);
    const em = this.orm.em.fork();
    const changed = await em.nativeUpdate(StageRun, { jobId, stage, attempt }, { state, updatedAt: new Date(), ...(outcome === undefined ? {} : { outcome }) });
    if (changed === 0) throw new StageNotClaimedError(jobId, stage, attempt);
    const row = await em.findOneOrFail(StageRun, { jobId, stage, attempt });
    return toRecord(row);
  }

  async get(jobId: string, stage: string, attempt: number): Promise<StageRecord | undefined> {
    const row = await this.orm.em.fork().findOne(StageRun, { jobId, stage, attempt });
    return row === null ? undefined : toRecord(row);
  }

  async listByJob(jobId: string): Promise<StageRecord[]> {
    const rows = await this.orm.em.fork().find(StageRun, { jobId }, { orderBy: { createdAt: "asc", stage: "asc", attempt: "asc" } });
    return rows.map(toRecord);
  }

  async listByState(state: StageState): Promise<StageRecord[]> {
    const rows = await this.orm.em.fork().find(StageRun, { state }, { orderBy: { createdAt: "asc", jobId: "asc", stage: "asc", attempt: "asc" } });
    return rows.map(toRecord);
  }

  async close(): Promise<void> {
    await this.orm.close(true);
  }
}

// Fails to compile if STAGE_STATES and the StageState type ever drift apart.
type StatesMatch = [StageState] extends [(typeof STAGE_STATES)[number]] ? ([(typeof STAGE_STATES)[number]] extends [StageState] ? true : false) : false;
const statesMatch: StatesMatch = true;
void statesMatch;

function checkKey(jobId: string, stage: string, attempt: number): void {
  if (jobId.length === 0) throw new InvalidStageKeyError("jobId is empty");
  if (stage.length === 0) throw new InvalidStageKeyError("stage is empty");
  if (!Number.isSafeInteger(attempt) || attempt < 1 || attempt > 2_147_483_647) {
    throw new InvalidStageKeyError(`attempt ${attempt} is not a positive 32-bit integer`);
  }
}

function toRecord(row: IStageRun): StageRecord {
  return Object.freeze({
    jobId: row.jobId,
    stage: row.stage,
    attempt: row.attempt,
    state: row.state,
    outcome: Object.freeze({ ...row.outcome }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  });
}
