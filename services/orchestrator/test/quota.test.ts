/**
 * The monthly quota and idempotent submits against a real orchestrator (PostgreSQL counts the
 * quota; NATS carries the stand-in stages' sandbox.started / sandbox.failed), called with
 * grpc-js and dev-key tokens.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Subjects, eventMsgId } from "@vexxy/events";
import { AnalysisStatus, SandboxFailedSchema, SandboxStartedSchema } from "@vexxy/proto";
import { testAuth, type TestAuth } from "./support/test-auth.js";
import { DIGEST, ONE_FINDING_SCAN, grpcError, startTestOrchestrator, type ApiClient, type TestOrchestrator } from "./support/test-orchestrator.js";

const INVALID_ARGUMENT = 3;
const ALREADY_EXISTS = 6;
const RESOURCE_EXHAUSTED = 8;

function nextMonthUtc(now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
}

describe("monthly quota and idempotency (real orchestrator, PostgreSQL, NATS; grpc-js)", function () {
  this.timeout(240000);
  let t: TestOrchestrator;
  let creds: TestAuth;

  before(async () => {
    t = await startTestOrchestrator("orch_quota", async (dir) => {
      creds = await testAuth(dir, { monthlyLimits: { ultimate: 120 }, defaultMonthlyLimit: 5 });
      return creds.auth;
    });
  });
  after(async () => {
    await t?.stop();
  });

  const clientFor = async (organizationId: string, tier = "ultimate"): Promise<ApiClient> => t.client(await creds.credentials.mint({ organizationId, tier }));
  const submit = (c: ApiClient, extra: { idempotencyKey?: string; imageDigest?: string } = {}) =>
    c.unary("submitAnalysis", { imageRef: "oci:/img:demo", imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING_SCAN, ...extra });

  async function until(probe: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function failInSandbox(jobId: string, started: boolean): Promise<void> {
    const job = { jobId, attempt: 1 };
    if (started) {
      await t.stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
      // Events of different subjects may be applied in any order: the run must have started first.
      await until(async () => (await t.orchestrator.store.find(jobId))?.startedAt != null);
    }
    await t.stages.publish(
      Subjects.sandboxFailed,
      create(SandboxFailedSchema, { job, reason: started ? "workload_crashed" : "image_digest_mismatch", message: "stand-in", retryable: false }),
      eventMsgId(Subjects.sandboxFailed, jobId, 1),
    );
  }

  it("accepts exactly 10 of 30 parallel submits against a limit of 10; the rest are ResourceExhausted naming the limit and the reset time", async () => {
    await t.orchestrator.quota.setOverride("org-race", 10, "test override");
    const c = await clientFor("org-race");
    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, () => submit(c)));
    const accepted = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes
      .filter((o): o is PromiseRejectedResult => o.status === "rejected")
      .map((o) => {
        const e = o.reason as { code: number; details: string };
        // grpc-js leaves %3A and %3B of the percent-encoded grpc-message undecoded.
        return { code: e.code, details: decodeURIComponent(e.details) };
      });
    assert.equal(accepted.length, 10);
    assert.equal(refused.length, 20);
    for (const err of refused) {
      assert.equal(err.code, RESOURCE_EXHAUSTED, err.details);
      assert.match(err.details, /limit 10 analyses/);
      assert.ok(err.details.includes(`resets at ${nextMonthUtc()}`), err.details);
    }
    const usage = await c.unary("getUsage", {});
    assert.equal(usage.used, 10);
    assert.equal(usage.limit, 10);
    assert.equal(usage.jobs.length, 10);
    assert.ok(usage.jobs.every((j) => j.costCredits === 1 && j.billedAt !== undefined));
    assert.equal(timestampDate(usage.periodEnd!).toISOString(), nextMonthUtc());
    assert.equal(usage.period, new Date().toISOString().slice(0, 7));
  });

  it("gives the unit back when a job fails or is cancelled before its sandbox started, not when it failed while running", async () => {
    await t.orchestrator.quota.setOverride("org-refund", 3);
    const c = await clientFor("org-refund");
    const [a, b, d] = [await submit(c), await submit(c), await submit(c)];
    assert.equal((await grpcError(submit(c))).code, RESOURCE_EXHAUSTED);

    await failInSandbox(a.jobId, false);
    await until(async () => (await c.unary("getAnalysis", { jobId: a.jobId })).analysis?.status === AnalysisStatus.FAILED);
    let usage = await c.unary("getUsage", {});
    assert.equal(usage.used, 2, "the failed-before-running job is refunded");
    assert.ok(!usage.jobs.some((j) => j.jobId === a.jobId), "and no longer listed as billed");

    await c.unary("cancelAnalysis", { jobId: b.jobId, reason: "changed my mind" });
    usage = await c.unary("getUsage", {});
    assert.equal(usage.used, 1, "cancelled before running: refunded");

    await failInSandbox(d.jobId, true);
    await until(async () => (await c.unary("getAnalysis", { jobId: d.jobId })).analysis?.status === AnalysisStatus.FAILED);
    usage = await c.unary("getUsage", {});
    assert.equal(usage.used, 1, "a job that ran stays billed");
    assert.deepEqual(
      usage.jobs.map((j) => j.jobId),
      [d.jobId],
    );

    // A refund is given once: a redelivered failure changes nothing.
    await failInSandbox(a.jobId, false);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await c.unary("getUsage", {})).used, 1);
    await submit(c);
    await submit(c);
    assert.equal((await grpcError(submit(c))).code, RESOURCE_EXHAUSTED);
  });

  it("takes the limit from the tier when the organization has no override, and reads any month by period", async () => {
    const ultimate = await clientFor("org-tier");
    assert.equal((await ultimate.unary("getUsage", {})).limit, 120);
    const past = await ultimate.unary("getUsage", { period: "2020-01" });
    assert.equal(past.period, "2020-01");
    assert.equal(past.used, 0);
    assert.equal(timestampDate(past.periodEnd!).toISOString(), "2020-02-01T00:00:00.000Z");
    const bad = await grpcError(ultimate.unary("getUsage", { period: "January" }));
    assert.equal(bad.code, INVALID_ARGUMENT);
    assert.match(bad.details, /period/);
  });

  it("returns the first job for the same idempotency key and body, without billing again, also for concurrent replays", async () => {
    const c = await clientFor("org-idem");
    const first = await submit(c, { idempotencyKey: "order-1" });
    const again = await submit(c, { idempotencyKey: "order-1" });
    assert.equal(again.jobId, first.jobId);
    const burst = await Promise.all(Array.from({ length: 8 }, () => submit(c, { idempotencyKey: "order-2" })));
    assert.equal(new Set(burst.map((r) => r.jobId)).size, 1, "eight concurrent replays, one job");
    const usage = await c.unary("getUsage", {});
    assert.equal(usage.used, 2, "two keys, two billed jobs");
  });

  it("refuses the same idempotency key with a different body with AlreadyExists naming the differing field", async () => {
    const c = await clientFor("org-idem2");
    const first = await submit(c, { idempotencyKey: "order-9" });
    const err = await grpcError(submit(c, { idempotencyKey: "order-9", imageDigest: `sha256:${"d".repeat(64)}` }));
    assert.equal(err.code, ALREADY_EXISTS);
    assert.match(err.details, /idempotency_key "order-9"/);
    assert.match(err.details, /differs in: image_digest/);
    assert.ok(err.details.includes(first.jobId));
    assert.equal((await c.unary("getUsage", {})).used, 1);
  });

  it("scopes idempotency keys per organization: the same key from another organization is a new job", async () => {
    const a = await clientFor("org-scope-a");
    const b = await clientFor("org-scope-b");
    const ja = await submit(a, { idempotencyKey: "shared-key" });
    const jb = await submit(b, { idempotencyKey: "shared-key" });
    assert.notEqual(ja.jobId, jb.jobId);
  });
});
