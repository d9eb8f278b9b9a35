/**
 * GetAnalysis reads a job with one plain SQL statement (JobStore.findView) instead of hydrating
 * the entity: against a real PostgreSQL, the Analysis built from that read equals the one built
 * from the entity for jobs in every shape (queued, running, failed with a message, complete).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { startPostgres } from "@vexxy/testkit";
import { toAnalysis } from "../src/job-view.js";
import { JobStore } from "../src/store/job-store.js";
import { openOrchestratorOrm } from "../src/store/orm.js";

describe("job view: GetAnalysis's plain SQL read (real PostgreSQL)", function () {
  this.timeout(120000);
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let orm: MikroORM;
  let store: JobStore;

  before(async () => {
    pg = await startPostgres();
    orm = await openOrchestratorOrm(await pg.createDatabase("orch_job_view"));
    store = new JobStore(orm.em);
  });
  after(async () => {
    await orm?.close(true);
    await pg?.stop();
  });

  const submit = async (org: string): Promise<string> => {
    const job = await store.create({
      organizationId: org,
      imageRef: "oci:/img:view",
      imageDigest: `sha256:${"d".repeat(64)}`,
      sbomId: null,
      config: { testScript: "", testTimeoutSeconds: 300, enableFuzzing: true, enableProfiling: true, ports: [], environment: {} },
      scan: { key: "jobs/x/scan.json", sha256: "0".repeat(64), size: 2 },
      sbom: null,
      callbackUrl: null,
      idempotencyKey: null,
      status: "QUEUED",
      phase: "queued",
      progress: 0,
    });
    return job.id;
  };

  const sameView = async (id: string, label: string): Promise<void> => {
    const entity = await store.find(id);
    const view = await store.findView(id);
    assert.ok(entity !== undefined && view !== undefined, label);
    assert.deepEqual(toAnalysis(view), toAnalysis(entity), label);
  };

  it("builds the same Analysis as the entity for a queued, a running, a failed and a complete job", async () => {
    const queued = await submit("acme");
    await sameView(queued, "queued");
    const running = await submit("acme");
    await store.mutate(running, (job) => {
      job.status = "RUNNING";
      job.currentPhase = "exercising";
      job.progressPercent = 50;
      job.startedAt = new Date("2026-12-02T10:00:00.123Z");
      job.attempt = 2;
      job.retryCount = 1;
      return { kind: "test_running" };
    });
    await sameView(running, "running");
    const view = await store.findView(running);
    assert.equal(view?.startedAt?.toISOString(), "2026-12-02T10:00:00.123Z", "milliseconds kept");
    assert.equal(view?.attempt, 2);
    const failed = await submit("globex");
    await store.mutate(failed, (job) => {
      job.status = "FAILED";
      job.currentPhase = "failed";
      job.startedAt = new Date();
      job.completedAt = new Date();
      job.errorMessage = "sandbox: the image's digest differs from image_digest";
      return { kind: "test_failed" };
    });
    await sameView(failed, "failed");
    assert.equal((await store.findView(failed))?.organizationId, "globex");
    const complete = await submit("acme");
    await store.mutate(complete, (job) => {
      job.status = "COMPLETE";
      job.currentPhase = "complete";
      job.progressPercent = 100;
      job.startedAt = new Date();
      job.completedAt = new Date();
      return { kind: "test_complete" };
    });
    await sameView(complete, "complete");
  });

  it("answers undefined for a job that does not exist", async () => {
    assert.equal(await store.findView(randomUUID()), undefined);
  });
});
