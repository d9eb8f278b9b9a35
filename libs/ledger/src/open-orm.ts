/**
 * Opens MikroORM on one service's Postgres schema and brings that schema up to date with the
 * service's committed migrations. Used by openStageLedger and by services with their own
 * entities (the orchestrator's jobs).
 *
 * The schema is the unit of isolation: entities default to it, the migrations table
 * (`mikro_orm_migrations`) lives in it, and every connection's search_path is just that schema,
 * so unqualified SQL in a migration lands there too. Start-up is safe with many processes at
 * once: schema creation and migrations run under a Postgres advisory lock keyed by the schema.
 * Schema changes only ever come from migrations, never from schema:update.
 */
import type { MigrationObject, Options } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { MikroORM, PostgreSqlDriver } from "@mikro-orm/postgresql";
import { LedgerConfigError, LedgerMigrationError } from "./errors.js";
import { stderrLedgerLogger, type LedgerLogger } from "./logger.js";

export interface OpenOrmOptions {
  /** postgres:// or postgresql:// URL of the database (DATABASE_URL). */
  readonly databaseUrl: string;
  /** Postgres schema owned by the caller (e.g. the service name): [a-z_][a-z0-9_]*, ≤ 63 chars. */
  readonly schema: string;
  /** Entities built with defineEntity / EntitySchema (MikroORM's own `entities` option type). */
  readonly entities: NonNullable<Options<PostgreSqlDriver>["entities"]>;
  /** Committed migration classes, oldest first; the names are what the migrations table records. */
  readonly migrations: readonly MigrationObject[];
  readonly logger?: LedgerLogger;
  /** Connection pool bounds (default 1..10). */
  readonly pool?: { readonly min?: number; readonly max?: number };
}

/** Name of the migrations table inside each schema. */
export const MIGRATIONS_TABLE = "mikro_orm_migrations";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Validates the options, connects, creates the schema if absent and runs pending migrations
 * (each in the same transaction as its bookkeeping; all or nothing), then returns the ORM. The
 * caller closes it with `orm.close()`. Throws LedgerConfigError for a bad URL or schema name,
 * LedgerMigrationError when connecting or migrating fails (the ORM is closed again).
 */
export async function openOrm(options: OpenOrmOptions): Promise<MikroORM> {
  const { schema } = options;
  if (!SCHEMA_NAME.test(schema)) {
    throw new LedgerConfigError(`schema ${JSON.stringify(schema)} must match ${SCHEMA_NAME.source}`);
  }
  checkDatabaseUrl(options.databaseUrl);
  const logger = options.logger ?? stderrLedgerLogger;

  let orm: MikroORM;
  try {
    orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: options.databaseUrl,
      schema,
      entities: [...options.entities],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      migrations: {
        migrationsList: [...options.migrations],
        tableName: MIGRATIONS_TABLE,
        transactional: true,
        allOrNothing: true,
        snapshot: false,
        silent: true,
      },
      // A plain schema name needs no quoting; validated above.
      driverOptions: { connection: { options: `-c search_path=${schema}` } },
      pool: { min: options.pool?.min ?? 1, max: options.pool?.max ?? 10 },
      ensureDatabase: false,
      allowGlobalContext: false,
      debug: false,
    });
  } catch (error) {
    throw new LedgerMigrationError(schema, `could not connect to the database for schema ${schema}`, { cause: error });
  }

  try {
    await migrateUnderLock(orm, schema, logger);
  } catch (error) {
    await orm.close(true).catch(() => undefined);
    throw new LedgerMigrationError(schema, `migrations of schema ${schema} failed`, { cause: error });
  }
  return orm;
}

async function migrateUnderLock(orm: MikroORM, schema: string, logger: LedgerLogger): Promise<void> {
  const connection = orm.em.getConnection();
  const knex = connection.getKnex();
  // The lock lives in its own transaction on one pooled connection while the migrator works on
  // others; it serialises concurrent start-ups (CREATE SCHEMA IF NOT EXISTS and the migrations
  // table creation both race otherwise) and is released when that transaction ends.
  await knex.transaction(async (lock) => {
    await lock.raw("select pg_advisory_xact_lock(hashtext(?))", [`vexxy:migrate:${schema}`]);
    await connection.execute(`create schema if not exists "${schema}"`);
    const applied = await orm.getMigrator().up();
    for (const migration of applied) logger.info("applied migration", { schema, migration: migration.name });
  });
}

function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new LedgerConfigError("DATABASE_URL is not a URL (expected postgres://user:password@host:port/database)", { cause: error });
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new LedgerConfigError(`DATABASE_URL scheme ${JSON.stringify(parsed.protocol)} is not postgres: or postgresql:`);
  }
  if (parsed.pathname.replace(/^\//, "") === "") {
    throw new LedgerConfigError("DATABASE_URL names no database (postgres://user:password@host:port/database)");
  }
}
