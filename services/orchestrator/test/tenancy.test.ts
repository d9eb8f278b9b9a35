/**
 * Tenancy: a job, its status stream, results, VEX and cancellation are visible only to the
 * organization of the token that submitted it. Another organization gets NotFound with the very
 * message a job that does not exist gets (no existence oracle), for every RPC that names a job;
 * ListAnalyses and GetUsage show only the caller's own. Real orchestrator, PostgreSQL and NATS,
 * grpc-js clients with dev-key tokens of two organizations.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { AnalysisService } from "@vexxy/proto";
import { testAuth, type TestAuth } from "./support/test-auth.js";
import {
  DIGEST,
  NO_FINDING_SCAN,
  ONE_FINDING_SCAN,
  grpcError,
  startTestOrchestrator,
  type ApiClient,
  type TestOrchestrator,
} from "./support/test-orchestrator.js";

const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // The first message or the error is all a test needs.
  }
}

describe("tenancy: a job is visible only to its organization; another gets NotFound, never PermissionDenied (real orchestrator, grpc-js)", function () {
  this.timeout(180000);
  let t: TestOrchestrator;
  let creds: TestAuth;
  let owner: ApiClient;
  let other: ApiClient;
  let queuedJob: string;
  let completeJob: string;

  before(async () => {
    t = await startTestOrchestrator("orch_tenancy", async (dir) => {
      creds = await testAuth(dir);
      return creds.auth;
    });
    owner = t.client(await creds.credentials.mint({ organizationId: "org-a" }));
    other = t.client(await creds.credentials.mint({ organizationId: "org-b" }));
    queuedJob = (await owner.unary("submitAnalysis", { imageRef: "oci:/img:a", imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING_SCAN })).jobId;
    // A scan without findings is COMPLETE at submit: its results exist.
    completeJob = (await owner.unary("submitAnalysis", { imageRef: "oci:/img:a", imageDigest: DIGEST, vulnerabilityReport: NO_FINDING_SCAN })).jobId;
  });
  after(async () => {
    await t?.stop();
  });

  /** Every RPC that names a job, as a call by `client`. */
  const jobRpcs: [string, (client: ApiClient, jobId: string) => Promise<unknown>][] = [
    ["GetAnalysis", (c, jobId) => c.unary("getAnalysis", { jobId })],
    ["WatchAnalysis", (c, jobId) => drain(c.serverStream("watchAnalysis", { jobId }))],
    ["GetAnalysisResults", (c, jobId) => c.unary("getAnalysisResults", { jobId })],
    ["DownloadVex", (c, jobId) => drain(c.serverStream("downloadVex", { jobId }))],
    ["CancelAnalysis", (c, jobId) => c.unary("cancelAnalysis", { jobId, reason: "not mine" })],
  ];

  it("covers every RPC of AnalysisService that names a job (the list above is complete)", () => {
    const listed = new Set(jobRpcs.map(([name]) => name));
    const withJobId = AnalysisService.methods.filter((m) => m.input.fields.some((f) => f.name === "job_id")).map((m) => m.name);
    assert.deepEqual(
      withJobId.filter((name) => !listed.has(name)),
      [],
      "an RPC taking job_id is not covered by this test",
    );
  });

  for (const [name, call] of jobRpcs) {
    it(`answers ${name} for another organization's job with NotFound, word for word as for a job that does not exist`, async () => {
      const missingId = randomUUID();
      const missing = await grpcError(call(other, missingId));
      assert.equal(missing.code, NOT_FOUND);
      for (const jobId of [queuedJob, completeJob]) {
        const foreign = await grpcError(call(other, jobId));
        assert.equal(foreign.code, NOT_FOUND, `${name} ${jobId}: ${foreign.details}`);
        assert.equal(foreign.details, missing.details.replace(missingId, jobId), "same message as a missing job");
      }
    });
  }

  it("leaves the owner's job untouched by the other organization's cancel, and lets the owner read it", async () => {
    const mine = await owner.unary("getAnalysis", { jobId: queuedJob });
    assert.notEqual(mine.analysis?.status, 6, "not CANCELLED");
    assert.equal(mine.analysis?.organizationId, "org-a");
    const results = await owner.unary("getAnalysisResults", { jobId: completeJob });
    assert.equal(results.jobId, completeJob);
  });

  it("lists only the caller's jobs: the other organization sees none of them, and naming another organization is PermissionDenied", async () => {
    const mine = await owner.unary("listAnalyses", {});
    assert.deepEqual(new Set(mine.analyses.map((a) => a.jobId)), new Set([queuedJob, completeJob]));
    const theirs = await other.unary("listAnalyses", {});
    assert.deepEqual(theirs.analyses, []);
    const named = await grpcError(other.unary("listAnalyses", { organizationId: "org-a" }));
    assert.equal(named.code, PERMISSION_DENIED);
    assert.match(named.details, /organization_id/);
    assert.equal((await owner.unary("listAnalyses", { organizationId: "org-a" })).analyses.length, 2, "repeating one's own organization is allowed");
  });

  it("refuses a submit whose organization_id names another organization with PermissionDenied, and files a submit under the token's organization", async () => {
    const err = await grpcError(
      other.unary("submitAnalysis", { imageRef: "oci:/img:b", imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING_SCAN, organizationId: "org-a" }),
    );
    assert.equal(err.code, PERMISSION_DENIED);
    assert.match(err.details, /organization_id/);
    const job = await other.unary("submitAnalysis", { imageRef: "oci:/img:b", imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING_SCAN });
    assert.equal((await other.unary("getAnalysis", { jobId: job.jobId })).analysis?.organizationId, "org-b");
    assert.equal((await grpcError(owner.unary("getAnalysis", { jobId: job.jobId }))).code, NOT_FOUND);
  });

  it("reports usage per organization: each sees only its own billed jobs", async () => {
    const a = await owner.unary("getUsage", {});
    const b = await other.unary("getUsage", {});
    assert.equal(a.organizationId, "org-a");
    assert.deepEqual(
      a.jobs.map((j) => j.jobId),
      [queuedJob],
      "the scan without findings is not billed",
    );
    assert.ok(b.jobs.every((j) => j.jobId !== queuedJob));
  });
});
