/**
 * @vexxy/ledger: the StageLedger seam and its Postgres implementation, plus openOrm, the helper
 * every service with its own entities uses to open MikroORM on its schema and run its committed
 * migrations.
 */
export type { StageLedger, StageRecord, StageState } from "./stage-ledger.js";
export { openStageLedger, type OpenStageLedgerOptions } from "./postgres-stage-ledger.js";
export { openOrm, MIGRATIONS_TABLE, type OpenOrmOptions } from "./open-orm.js";
export { STAGE_STATES, StageRun, type IStageRun } from "./stage-run-entity.js";
export { stageLedgerMigrations } from "./migrations/index.js";
export { InvalidStageKeyError, LedgerConfigError, LedgerMigrationError, StageNotClaimedError } from "./errors.js";
export { stderrLedgerLogger, type LedgerLogger } from "./logger.js";
