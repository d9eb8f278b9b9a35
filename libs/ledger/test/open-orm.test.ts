import assert from "node:assert/strict";
import { connect } from "node:net";
import { existsSync } from "node:fs";
import { defineEntity } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import { LedgerConfigError, LedgerMigrationError, openOrm, type LedgerLogger } from "@vexxy/ledger";
import { startPostgres, type PostgresServer } from "@vexxy/testkit";

const Widget = defineEntity({
  name: "Widget",
  tableName: "widget",
  properties: (p) => ({ id: p.integer().primary(), label: p.text() }),
});

/** Written like a service's own migration: unqualified names, relying on the schema's search_path. */
class Migration20260101000000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "widget" ("id" int not null primary key, "label" text not null);`);
  }
}

class BrokenMigration20260101000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "gadget" ("id" int primary key);`);
    this.addSql(`this is not sql;`);
  }
}

describe("openOrm", () => {
  let pg: PostgresServer;
  let databaseUrl: string;
  const applied: string[] = [];
  const logger: LedgerLogger = { info: (_message, fields) => applied.push(String(fields?.["migration"])) };

  before(async () => {
    pg = await startPostgres();
    databaseUrl = await pg.createDatabase("orm_test");
  });
  after(async () => {
    await pg?.stop();
  });

  it("creates the schema, runs a service's own migrations in it and returns a working ORM", async () => {
    const orm = await openOrm({
      databaseUrl,
      schema: "widgets",
      entities: [Widget],
      migrations: [{ name: "Migration20260101000000", class: Migration20260101000000 }],
      logger,
    });
    try {
      assert.deepEqual(applied, ["Migration20260101000000"]);
      const em = orm.em.fork();
      em.create(Widget, { id: 1, label: "one" });
      await em.flush();
      const rows = await orm.em
        .getConnection()
        .execute<{ table_schema: string }[]>("select table_schema from information_schema.tables where table_name = 'widget'");
      assert.deepEqual(rows, [{ table_schema: "widgets" }]);
      assert.equal((await orm.em.fork().findOneOrFail(Widget, { id: 1 })).label, "one");
    } finally {
      await orm.close(true);
    }
  });

  it("rolls back a failing migration entirely and throws LedgerMigrationError", async () => {
    await assert.rejects(
      openOrm({
        databaseUrl,
        schema: "broken",
        entities: [],
        migrations: [{ name: "BrokenMigration20260101000001", class: BrokenMigration20260101000001 }],
        logger,
      }),
      (error: unknown) => error instanceof LedgerMigrationError && error.schema === "broken",
    );
    const inspector = await openOrm({ databaseUrl, schema: "broken", entities: [], migrations: [], logger });
    try {
      const gadget = await inspector.em.getConnection().execute("select 1 from information_schema.tables where table_name = 'gadget'");
      assert.deepEqual(gadget, []);
      const logged = await inspector.em.getConnection().execute('select name from "broken"."mikro_orm_migrations"');
      assert.deepEqual(logged, []);
    } finally {
      await inspector.close(true);
    }
  });

  it("rejects a schema name that is not a plain identifier with LedgerConfigError naming schema", async () => {
    for (const schema of ["", "Public", "a-b", 'x"; drop schema public; --', "x".repeat(64)]) {
      await assert.rejects(openOrm({ databaseUrl, schema, entities: [], migrations: [] }), (error: unknown) => {
        assert.ok(error instanceof LedgerConfigError);
        assert.match(error.message, /schema/);
        return true;
      });
    }
  });

  it("rejects a database URL that is not postgres:// with LedgerConfigError naming DATABASE_URL", async () => {
    for (const url of ["not a url", "mysql://u:p@127.0.0.1/db", "postgres://u:p@127.0.0.1:5432"]) {
      await assert.rejects(openOrm({ databaseUrl: url, schema: "x", entities: [], migrations: [] }), (error: unknown) => {
        assert.ok(error instanceof LedgerConfigError);
        assert.match(error.message, /DATABASE_URL/);
        return true;
      });
    }
  });

  it("throws LedgerMigrationError when the database is unreachable", async () => {
    await assert.rejects(
      openOrm({ databaseUrl: "postgres://postgres:x@127.0.0.1:1/nothing", schema: "x", entities: [], migrations: [] }),
      LedgerMigrationError,
    );
  });
});

describe("startPostgres (testkit)", () => {
  it("stop() ends the server and removes its directory", async () => {
    const server = await startPostgres();
    assert.ok(existsSync(server.dir));
    assert.equal(await accepts(server.port), true);
    await server.stop();
    await server.stop();
    assert.equal(await accepts(server.port), false);
    assert.equal(existsSync(server.dir), false);
  });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
