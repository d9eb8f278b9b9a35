/**
 * `vexxy up --state-dir DIR` keeps its jobs: the embedded stack started on a state dir, a job
 * completed, the stack stopped and started again on the same dir, and the earlier job read back
 * through the public API. The job is the cheapest one that completes: a scan with no findings
 * (COMPLETE at submit, no sandbox), which still writes its scan blob, job row and event log.
 */
import { strict as assert } from "node:assert";
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import pg from "pg";
import { AnalysisStatus, GetAnalysisRequestSchema, GetAnalysisResultsRequestSchema, ListAnalysesRequestSchema } from "@vexxy/proto";
import type { EmbeddedStack } from "@vexxy/deploy-local";
import { apiClient, demoInput, demoSubmit, startMesh, type ApiClient } from "./support/mesh.js";

async function showSetting(databaseUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return String((await client.query(`SHOW ${name}`)).rows[0]?.[name]);
  } finally {
    await client.end();
  }
}

describe("the embedded stack on a state dir", function () {
  this.timeout(300_000);
  let stateParent: string;
  let stack: EmbeddedStack | undefined;
  let client: ApiClient | undefined;

  before(async () => {
    stateParent = await mkdtemp(join(tmpdir(), "vexxy-state-test-"));
    // mkdtemp makes 0700 dirs; a state dir the postgres user can reach keeps its cluster inside
    // (the unreachable case is covered by libs/local-servers/test/postgres.test.ts).
    await chmod(stateParent, 0o755);
  });
  after(async () => {
    client?.close();
    await stack?.stop();
    await rm(stateParent, { recursive: true, force: true });
  });

  it("keeps a completed job across stop and start on the same dir, with PostgreSQL's fsync on", async () => {
    const stateDir = join(stateParent, "state");
    const demo = await demoInput();
    stack = await startMesh({ stateDir });
    client = apiClient(stack);
    assert.equal(await showSetting(stack.databaseUrl, "fsync"), "on");
    const submitted = await client.unary("submitAnalysis", demoSubmit(demo, { vulnerabilityReport: Buffer.from('{"matches":[]}') }));
    assert.equal(submitted.status, AnalysisStatus.COMPLETE);
    const before = (await client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId: submitted.jobId }))).analysis;
    client.close();
    client = undefined;
    await stack.stop();
    stack = undefined;
    assert.ok((await stat(join(stateDir, "postgres", "data", "PG_VERSION"))).isFile(), "the cluster stays in the state dir");

    stack = await startMesh({ stateDir });
    client = apiClient(stack);
    const after = (await client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId: submitted.jobId }))).analysis;
    assert.equal(after?.status, AnalysisStatus.COMPLETE);
    assert.equal(after?.imageDigest, demo.imageDigest);
    assert.deepEqual(after?.createdAt, before?.createdAt);
    assert.deepEqual(after?.completedAt, before?.completedAt);
    const results = await client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId }));
    assert.equal(results.jobId, submitted.jobId);
    const listed = await client.unary("listAnalyses", create(ListAnalysesRequestSchema, { pageSize: 10 }));
    assert.ok(listed.analyses.some((a) => a.jobId === submitted.jobId));
  });
});
