import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { openOrm, openStageLedger, InvalidStageKeyError, StageNotClaimedError, type LedgerLogger, type StageLedger } from "@vexxy/ledger";
import { startPostgres, type PostgresServer } from "@vexxy/testkit";
import type { MikroORM } from "@mikro-orm/postgresql";

const quiet: LedgerLogger = { info: () => undefined };

describe("Postgres StageLedger", () => {
  let pg: PostgresServer;
  let databaseUrl: string;
  let inspector: MikroORM;
  const open: StageLedger[] = [];

  const ledger = async (schema: string): Promise<StageLedger> => {
    const opened = await openStageLedger({ databaseUrl, schema, logger: quiet });
    open.push(opened);
    return opened;
  };
  const query = <T extends object>(sql: string, params: unknown[] = []): Promise<T[]> => inspector.em.getConnection().execute<T[]>(sql, params, "all");

  before(async () => {
    pg = await startPostgres();
    databaseUrl = await pg.createDatabase("ledger_test");
    inspector = await openOrm({ databaseUrl, schema: "inspector", entities: [], migrations: [], logger: quiet });
  });
  after(async () => {
    for (const opened of open) await opened.close().catch(() => undefined);
    await inspector?.close(true);
    await pg?.stop();
  });

  it("creates stage_run in the given schema by migration, with the migrations table in that schema", async () => {
    await ledger("sandbox");
    const tables = await query<{ table_schema: string; table_name: string }>(
      "select table_schema, table_name from information_schema.tables where table_name in ('stage_run', 'mikro_orm_migrations') order by 1, 2",
    );
    assert.deepEqual(
      tables.filter((t) => t.table_schema !== "inspector"),
      [
        { table_schema: "sandbox", table_name: "mikro_orm_migrations" },
        { table_schema: "sandbox", table_name: "stage_run" },
      ],
    );
    const columns = await query<{ column_name: string; data_type: string }>(
      "select column_name, data_type from information_schema.columns where table_schema = 'sandbox' and table_name = 'stage_run' order by ordinal_position",
    );
    assert.deepEqual(columns, [
      { column_name: "job_id", data_type: "text" },
      { column_name: "stage", data_type: "text" },
      { column_name: "attempt", data_type: "integer" },
      { column_name: "state", data_type: "text" },
      { column_name: "outcome", data_type: "jsonb" },
      { column_name: "created_at", data_type: "timestamp with time zone" },
      { column_name: "updated_at", data_type: "timestamp with time zone" },
    ]);
    const pk = await query<{ column_name: string }>(
      `select k.column_name from information_schema.table_constraints c
         join information_schema.key_column_usage k on k.constraint_name = c.constraint_name and k.table_schema = c.table_schema
        where c.table_schema = 'sandbox' and c.table_name = 'stage_run' and c.constraint_type = 'PRIMARY KEY' order by k.ordinal_position`,
    );
    assert.deepEqual(
      pk.map((r) => r.column_name),
      ["job_id", "stage", "attempt"],
    );
    const migrations = await query<{ name: string }>('select name from "sandbox"."mikro_orm_migrations"');
    assert.deepEqual(
      migrations.map((m) => m.name),
      ["Migration20261122220000"],
    );
  });

  it("does not run a migration twice when the ledger is reopened", async () => {
    const again = await ledger("sandbox");
    assert.equal((await again.listByState("started")).length >= 0, true);
    const migrations = await query<{ name: string }>('select name from "sandbox"."mikro_orm_migrations"');
    assert.equal(migrations.length, 1);
  });

  it("has entity metadata that matches the migrated table (the schema generator sees no difference)", async () => {
    const { StageRun, stageLedgerMigrations } = await import("@vexxy/ledger");
    const orm = await openOrm({ databaseUrl, schema: "sandbox", entities: [StageRun], migrations: stageLedgerMigrations, logger: quiet });
    try {
      const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, dropTables: false, schema: "sandbox" });
      assert.equal(diff.trim(), "");
    } finally {
      await orm.close(true);
    }
  });

  it("claims a key once: the second claim returns claimed false with the recorded row", async () => {
    const l = await ledger("sandbox");
    const jobId = randomUUID();
    const first = await l.claim(jobId, "sandbox", 1);
    assert.equal(first.claimed, true);
    assert.equal(first.record.state, "started");
    assert.deepEqual(first.record.outcome, {});
    await l.update(jobId, "sandbox", 1, "done", { sandboxId: "sb-1", profileKey: `jobs/${jobId}/attempts/1/profile.bin` });
    const second = await l.claim(jobId, "sandbox", 1);
    assert.equal(second.claimed, false);
    assert.equal(second.record.state, "done");
    assert.deepEqual(second.record.outcome, { sandboxId: "sb-1", profileKey: `jobs/${jobId}/attempts/1/profile.bin` });
    assert.equal(second.record.createdAt.getTime(), first.record.createdAt.getTime());
    const nextAttempt = await l.claim(jobId, "sandbox", 2);
    assert.equal(nextAttempt.claimed, true);
  });

  it("lets exactly one of two ledgers (two ORM instances) win each simultaneous claim", async () => {
    const [a, b] = await Promise.all([ledger("profiler"), ledger("profiler")]);
    const keys = Array.from({ length: 25 }, () => randomUUID());
    const results = await Promise.all(keys.flatMap((jobId) => [a.claim(jobId, "profile", 1), b.claim(jobId, "profile", 1)]));
    for (let i = 0; i < keys.length; i++) {
      const pair = [results[2 * i], results[2 * i + 1]];
      assert.equal(pair.filter((r) => r?.claimed).length, 1, `job ${keys[i]} had ${pair.filter((r) => r?.claimed).length} winners`);
      assert.equal(pair[0]?.record.createdAt.getTime(), pair[1]?.record.createdAt.getTime());
    }
  });

  it("keeps the same key independent in two schemas", async () => {
    const reachability = await ledger("reachability");
    const vex = await ledger("vex");
    const jobId = randomUUID();
    assert.equal((await reachability.claim(jobId, "score", 1)).claimed, true);
    assert.equal((await vex.claim(jobId, "score", 1)).claimed, true);
    await reachability.update(jobId, "score", 1, "failed", { reason: "profile incomplete" });
    assert.equal((await vex.get(jobId, "score", 1))?.state, "started");
    assert.equal((await reachability.get(jobId, "score", 1))?.state, "failed");
  });

  it("keeps state and outcome across close and reopen", async () => {
    const jobId = randomUUID();
    const first = await openStageLedger({ databaseUrl, schema: "orchestrator", logger: quiet });
    await first.claim(jobId, "vex", 1);
    const updated = await first.update(jobId, "vex", 1, "done", {
      vexKey: `jobs/${jobId}/vex.json`,
      sha256: "ab".repeat(32),
      nested: { n: 1, list: [1, "two"] },
    });
    await first.close();
    const reopened = await ledger("orchestrator");
    const record = await reopened.get(jobId, "vex", 1);
    assert.equal(record?.state, "done");
    assert.deepEqual(record?.outcome, { vexKey: `jobs/${jobId}/vex.json`, sha256: "ab".repeat(32), nested: { n: 1, list: [1, "two"] } });
    assert.equal(record?.updatedAt.getTime(), updated.updatedAt.getTime());
    assert.ok((record?.updatedAt.getTime() ?? 0) >= (record?.createdAt.getTime() ?? Infinity));
  });

  it("keeps the outcome when update gives only a state", async () => {
    const l = await ledger("orchestrator");
    const jobId = randomUUID();
    await l.claim(jobId, "dispatch", 1);
    await l.update(jobId, "dispatch", 1, "started", { step: 1 });
    const record = await l.update(jobId, "dispatch", 1, "interrupted");
    assert.equal(record.state, "interrupted");
    assert.deepEqual(record.outcome, { step: 1 });
  });

  it("lists started rows by state and a job's rows oldest first", async () => {
    const l = await ledger("reachability");
    const jobA = randomUUID();
    const jobB = randomUUID();
    await l.claim(jobA, "score", 1);
    await l.claim(jobA, "score", 2);
    await l.update(jobA, "score", 1, "failed");
    await l.claim(jobB, "score", 1);
    await l.update(jobB, "score", 1, "done");
    const started = await l.listByState("started");
    assert.ok(started.some((r) => r.jobId === jobA && r.attempt === 2));
    assert.ok(!started.some((r) => r.jobId === jobB || (r.jobId === jobA && r.attempt === 1)));
    assert.ok(started.every((r) => r.state === "started"));
    const rows = await l.listByJob(jobA);
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.state]),
      [
        [1, "failed"],
        [2, "started"],
      ],
    );
    assert.deepEqual(await l.listByJob(randomUUID()), []);
  });

  it("throws StageNotClaimedError when updating a key nobody claimed, and get returns undefined", async () => {
    const l = await ledger("vex");
    const jobId = randomUUID();
    await assert.rejects(l.update(jobId, "sign", 1, "done"), StageNotClaimedError);
    assert.equal(await l.get(jobId, "sign", 1), undefined);
  });

  it("rejects an attempt below 1, an empty job id and an unknown state with InvalidStageKeyError", async () => {
    const l = await ledger("vex");
    await assert.rejects(l.claim(randomUUID(), "sign", 0), InvalidStageKeyError);
    await assert.rejects(l.claim("", "sign", 1), InvalidStageKeyError);
    const jobId = randomUUID();
    await l.claim(jobId, "sign", 1);
    await assert.rejects(l.update(jobId, "sign", 1, "finished" as never), InvalidStageKeyError);
    assert.equal((await l.get(jobId, "sign", 1))?.state, "started");
  });
});
