import { strict as assert } from "node:assert";
import { create, toJsonString } from "@bufbuild/protobuf";
import { createClient, type ConnectError, Code, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { testAuth } from "./support/test-auth.js";
import {
  AnalysisService,
  AnalysisStatus,
  SandboxStartedSchema,
  SandboxCompletedSchema,
  SandboxFailedSchema,
  ProfileReadySchema,
  ReachabilityScoredSchema,
  VexSignedSchema,
  AnalysisRequestedSchema,
  BlobRefSchema,
  EvidenceSchema,
  VerdictSchema,
  VexJustification,
  VexStatus,
  type BlobRef,
  type JobRef,
  type Verdict,
} from "@vexxy/proto";
import { connectEventBus, Durables, Subjects, eventMsgId, type EventBus, type InboundEvent } from "@vexxy/events";
import { FilesystemBlobStore } from "@vexxy/blobstore";
import { noopLogger } from "@vexxy/platform";
import { startNatsServer, startPostgres, tempDir, type TempDir } from "@vexxy/testkit";
import { startOrchestratorService, type RunningOrchestrator, type OrchestratorConfig } from "../src/index.js";

const DIGEST = `sha256:${"b".repeat(64)}`;

describe("orchestrator job lifecycle (real Postgres and JetStream; the test stands in for the other four services)", function () {
  this.timeout(120000);
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let dir: TempDir;
  let orchestrator: RunningOrchestrator;
  let stages: EventBus;
  let client: Client<typeof AnalysisService>;
  const requests: InboundEvent[] = [];
  let config: OrchestratorConfig;

  before(async () => {
    pg = await startPostgres();
    nats = await startNatsServer();
    dir = await tempDir("orch");
    const { auth, devAuth } = await testAuth(dir.path);
    config = Object.freeze({
      auth,
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: "VEXXY",
      databaseUrl: await pg.createDatabase("orch"),
      blobStoreUrl: `file://${dir.path}`,
      logLevel: "error",
      maxAttempts: 2,
      dispatchDeadlineSeconds: 600,
      runGraceSeconds: 600,
      stageDeadlineSeconds: 2,
      maxRedispatches: 0,
      reconcileIntervalMs: 200,
      eventAckWaitMs: 5000,
      watchPollMs: 200,
      imageTransports: ["oci:"],
    });
    orchestrator = await startOrchestratorService(config, { logger: noopLogger, blobs: new FilesystemBlobStore(dir.path) });
    stages = await connectEventBus({ servers: nats.url, name: "stand-in-stages", streamName: "VEXXY" });
    await stages.consume({ durable: Durables.sandbox, subjects: [Subjects.analysisRequested] }, async (ev) => {
      requests.push(ev);
    });
    client = createClient(AnalysisService, createGrpcTransport({ baseUrl: orchestrator.url, interceptors: [devAuth] }));
  });
  after(async () => {
    await stages?.close();
    await orchestrator?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  // One finding: a scan with none completes at submit and never reaches the stand-in stages.
  const ONE_FINDING = JSON.stringify({
    matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }],
  });

  async function submit(): Promise<string> {
    const res = await client.submitAnalysis({ imageRef: "oci:/img:demo", imageDigest: DIGEST, vulnerabilityReport: Buffer.from(ONE_FINDING) });
    return res.jobId;
  }

  async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 15000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function requestFor(jobId: string, attempt: number): Promise<JobRef> {
    return until(async () => {
      const ev = requests.find((r) => (r.payload as { job?: JobRef }).job?.jobId === jobId && (r.payload as { job?: JobRef }).job?.attempt === attempt);
      return (ev?.payload as { job?: JobRef } | undefined)?.job;
    });
  }

  async function status(jobId: string) {
    return (await client.getAnalysis({ jobId })).analysis!;
  }

  it("publishes analysis.requested with the job's inputs and walks the phases to COMPLETE with the VEX keys recorded", async () => {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    assert.equal(job.imageDigest, DIGEST);
    assert.match(job.scan?.sha256 ?? "", /^[0-9a-f]{64}$/);
    assert.equal((await status(jobId)).currentPhase, "setting_up_sandbox");
    await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
    await until(async () => ((await status(jobId)).status === AnalysisStatus.RUNNING ? true : undefined));
    await stages.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job }), eventMsgId(Subjects.sandboxCompleted, jobId, 1));
    await stages.publish(Subjects.profileReady, create(ProfileReadySchema, { job }), eventMsgId(Subjects.profileReady, jobId, 1));
    await stages.publish(Subjects.reachabilityScored, create(ReachabilityScoredSchema, { job }), eventMsgId(Subjects.reachabilityScored, jobId, 1));
    await assert.rejects(client.getAnalysisResults({ jobId }), (e: ConnectError) => e.code === Code.FailedPrecondition && e.message.includes("job_id"));
    const doc = await new FilesystemBlobStore(dir.path).put(`jobs/${jobId}/attempts/1/openvex.json`, Buffer.from("{}"));
    await stages.publish(
      Subjects.vexSigned,
      create(VexSignedSchema, {
        job,
        documentId: "urn:test:1",
        document: { ...doc, size: BigInt(doc.size) },
        bundle: { ...doc, size: BigInt(doc.size) },
        publicKey: { ...doc, size: BigInt(doc.size) },
      }),
      eventMsgId(Subjects.vexSigned, jobId, 1),
    );
    const done = await until(async () => {
      const a = await status(jobId);
      return a.status === AnalysisStatus.COMPLETE ? a : undefined;
    });
    assert.equal(done.progressPercent, 100);
    const results = await client.getAnalysisResults({ jobId });
    assert.equal(results.generatedVexId, "urn:test:1");
    assert.equal(results.vexDocument, "{}");
  });

  /** Walks a job to COMPLETE as the four stages would, with vex.signed naming the verdicts blob written from `verdicts`. */
  async function completeWithVerdicts(verdicts: Verdict[]): Promise<{ jobId: string; verdictsBlob: BlobRef }> {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    const files = new FilesystemBlobStore(dir.path);
    const put = async (key: string, body: string): Promise<BlobRef> => {
      const info = await files.put(key, Buffer.from(body));
      return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
    };
    const verdictsBlob = await put(
      `jobs/${jobId}/attempts/1/verdicts.json`,
      toJsonString(ReachabilityScoredSchema, create(ReachabilityScoredSchema, { job, verdicts })),
    );
    const doc = await put(`jobs/${jobId}/attempts/1/openvex.json`, '{"statements":[]}');
    await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
    await stages.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job }), eventMsgId(Subjects.sandboxCompleted, jobId, 1));
    await stages.publish(Subjects.profileReady, create(ProfileReadySchema, { job }), eventMsgId(Subjects.profileReady, jobId, 1));
    await stages.publish(
      Subjects.reachabilityScored,
      create(ReachabilityScoredSchema, { job, verdictsBlob, verdictCount: verdicts.length }),
      eventMsgId(Subjects.reachabilityScored, jobId, 1),
    );
    await stages.publish(
      Subjects.vexSigned,
      create(VexSignedSchema, {
        job,
        documentId: `urn:test:${jobId}`,
        document: doc,
        bundle: doc,
        publicKey: doc,
        verdictsBlob,
        verdictCount: verdicts.length,
      }),
      eventMsgId(Subjects.vexSigned, jobId, 1),
    );
    await until(async () => ((await status(jobId)).status === AnalysisStatus.COMPLETE ? true : undefined));
    return { jobId, verdictsBlob };
  }

  function fakeVerdicts(n: number): Verdict[] {
    return Array.from({ length: n }, (_, i) =>
      create(VerdictSchema, {
        vulnerabilityId: `CVE-2099-${String(i).padStart(5, "0")}`,
        packageName: `pkg-${i % 97}`,
        packageVersion: "1.0",
        packagePurl: `pkg:deb/debian/pkg-${i % 97}@1.0`,
        status: i % 3 === 0 ? VexStatus.AFFECTED : VexStatus.NOT_AFFECTED,
        justification: i % 3 === 0 ? VexJustification.UNSPECIFIED : VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
        confidence: 0.9,
        reason: `synthetic verdict ${i} with a reason as long as the real ones are, to make the blob realistically large`,
        evidence: [create(EvidenceSchema, { kind: "code_executed", path: `/usr/lib/pkg-${i % 97}/lib.so`, detail: "mapped executable" })],
      }),
    );
  }

  it("reads results from the verdicts blob vex.signed names (sha256 checked) and pages them, the VEX documents on the first page only", async () => {
    const verdicts = fakeVerdicts(12000);
    const { jobId, verdictsBlob } = await completeWithVerdicts(verdicts);
    assert.ok(Number(verdictsBlob.size) > 1024 * 1024, `blob of ${verdictsBlob.size} bytes, past NATS's 1 MiB message limit`);
    const all = await client.getAnalysisResults({ jobId });
    assert.equal(all.reachabilityResults.length, 12000);
    assert.equal(all.totalResults, 12000);
    assert.equal(all.nextPageToken, "");
    assert.equal(all.vexDocument, '{"statements":[]}');

    const pages: Awaited<ReturnType<typeof client.getAnalysisResults>>[] = [];
    let token = "";
    do {
      const page = await client.getAnalysisResults({ jobId, pageSize: 5000, pageToken: token });
      pages.push(page);
      token = page.nextPageToken;
    } while (token !== "" && pages.length < 10);
    assert.deepEqual(
      pages.map((p) => [p.reachabilityResults.length, p.totalResults, p.vexDocument !== ""]),
      [
        [5000, 12000, true],
        [5000, 12000, false],
        [2000, 12000, false],
      ],
    );
    const deep = pages[2]!.reachabilityResults[1734]!;
    assert.deepEqual(
      [deep.cveId, deep.packageName, deep.status, deep.justification, deep.evidence[0]],
      ["CVE-2099-11734", "pkg-94", "not_affected", "vulnerable_code_not_in_execute_path", "code_executed: /usr/lib/pkg-94/lib.so (mapped executable)"],
    );
    const bare = await client.getAnalysisResults({ jobId, pageSize: 10, omitVex: true });
    assert.deepEqual([bare.reachabilityResults.length, bare.vexDocument, bare.vexBundle, bare.signingPublicKeyPem], [10, "", "", ""]);
    await assert.rejects(
      client.getAnalysisResults({ jobId, pageSize: 5001 }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.message.includes("page_size"),
    );
    await assert.rejects(
      client.getAnalysisResults({ jobId, pageToken: "bm9wZQ" }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.message.includes("page_token"),
    );
  });

  it("answers DataLoss, naming the blob, when the verdicts blob no longer matches its sha256", async () => {
    const { jobId, verdictsBlob } = await completeWithVerdicts(fakeVerdicts(3));
    await new FilesystemBlobStore(dir.path).put(verdictsBlob.key, Buffer.from("{}"));
    await assert.rejects(
      client.getAnalysisResults({ jobId }),
      (e: ConnectError) => e.code === Code.DataLoss && e.message.includes(verdictsBlob.key) && e.message.includes("sha256"),
    );
  });

  it("re-drives a retryable sandbox failure as attempt 2 and fails for good naming the stage once attempts are used up", async () => {
    const jobId = await submit();
    const first = await requestFor(jobId, 1);
    await stages.publish(
      Subjects.sandboxFailed,
      create(SandboxFailedSchema, { job: first, reason: "interrupted", message: "sandbox restarted", retryable: true }),
      eventMsgId(Subjects.sandboxFailed, jobId, 1),
    );
    const second = await requestFor(jobId, 2);
    assert.equal(second.attempt, 2);
    // A late event of the stale attempt changes nothing.
    await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job: first }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await status(jobId)).status, AnalysisStatus.QUEUED);
    await stages.publish(
      Subjects.sandboxFailed,
      create(SandboxFailedSchema, { job: second, reason: "interrupted", message: "again", retryable: true }),
      eventMsgId(Subjects.sandboxFailed, jobId, 2),
    );
    const failed = await until(async () => {
      const a = await status(jobId);
      return a.status === AnalysisStatus.FAILED ? a : undefined;
    });
    assert.match(failed.errorMessage, /sandbox stage failed \(interrupted\)/);
    assert.equal(failed.retryCount, 1);
  });

  it("fails a non-retryable failure at once, naming the stage and the reason", async () => {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    await stages.publish(
      Subjects.sandboxFailed,
      create(SandboxFailedSchema, { job, reason: "image_digest_mismatch", message: "image_digest: expected X got Y", retryable: false }),
      eventMsgId(Subjects.sandboxFailed, jobId, 1),
    );
    const failed = await until(async () => {
      const a = await status(jobId);
      return a.status === AnalysisStatus.FAILED ? a : undefined;
    });
    assert.match(failed.errorMessage, /sandbox stage failed \(image_digest_mismatch\): image_digest/);
    assert.equal(failed.attempt, 1);
  });

  it("re-drives a job whose next event never came once the phase deadline passes, so nothing stays RUNNING forever", async () => {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
    await stages.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job }), eventMsgId(Subjects.sandboxCompleted, jobId, 1));
    // profile.ready never comes: the stage deadline (2 s) passes and attempt 2 is requested.
    const again = await requestFor(jobId, 2);
    assert.equal(again.attempt, 2);
    const second = await status(jobId);
    assert.equal(second.attempt, 2);
    const ended = await until(async () => {
      const a = await status(jobId);
      return a.status === AnalysisStatus.FAILED ? a : undefined;
    }, 3000).catch(() => undefined);
    // Attempt 2 sits in setting_up_sandbox with a 600 s dispatch deadline, so it has not failed yet.
    assert.equal(ended, undefined);
    const cancelled = await client.cancelAnalysis({ jobId, reason: "test over" });
    assert.equal(cancelled.analysis?.status, AnalysisStatus.CANCELLED);
  });

  it("completes a job whose scan has no findings at submit, as a success: COMPLETE, zero results, no VEX, no event published", async () => {
    const requestsBefore = requests.length;
    const submitted = await client.submitAnalysis({
      imageRef: "oci:/img:no-findings",
      imageDigest: DIGEST,
      vulnerabilityReport: Buffer.from('{"matches":[]}'),
    });
    assert.equal(submitted.status, AnalysisStatus.COMPLETE);
    const done = await status(submitted.jobId);
    assert.equal(done.status, AnalysisStatus.COMPLETE);
    assert.equal(done.currentPhase, "complete");
    assert.equal(done.progressPercent, 100);
    assert.equal(done.errorMessage, "");
    assert.equal(done.retryCount, 0);
    assert.ok(done.completedAt !== undefined);
    const results = await client.getAnalysisResults({ jobId: submitted.jobId });
    assert.equal(results.reachabilityResults.length, 0);
    assert.equal(results.vexDocument, "");
    const watched: string[] = [];
    for await (const u of client.watchAnalysis({ jobId: submitted.jobId })) watched.push(`${AnalysisStatus[u.analysis!.status]}:${u.analysis!.currentPhase}`);
    assert.deepEqual(watched, ["COMPLETE:complete"]);
    const log = await orchestrator.store.events(submitted.jobId);
    assert.deepEqual(
      log.map((e) => e.kind),
      ["submitted", "completed_without_findings"],
      "no failure on the way",
    );
    // A Trivy report whose results list no vulnerabilities is the same answer.
    const trivy = await client.submitAnalysis({
      imageRef: "oci:/img:no-findings",
      imageDigest: DIGEST,
      vulnerabilityReport: Buffer.from(JSON.stringify({ SchemaVersion: 2, ArtifactName: "x", Results: [{ Target: "x (debian 12.8)", Type: "debian" }] })),
    });
    assert.equal(trivy.status, AnalysisStatus.COMPLETE);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(requests.length, requestsBefore, "nothing dispatched: the image is never run");
  });

  it("fails a job whose VEX stage reports no verdicts for a scan with findings (no longer turned into COMPLETE)", async () => {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    const { AnalysisFailedSchema } = await import("@vexxy/proto");
    await stages.publish(
      Subjects.analysisFailed,
      create(AnalysisFailedSchema, { job, stage: "vex", reason: "no_verdicts", message: "no verdicts", retryable: false }),
      `${eventMsgId(Subjects.analysisFailed, jobId, 1)}:vex`,
    );
    const failed = await until(async () => {
      const a = await status(jobId);
      return a.status === AnalysisStatus.FAILED ? a : undefined;
    });
    assert.match(failed.errorMessage, /vex stage failed \(no_verdicts\)/);
  });

  it("refuses a malformed scan at submit with InvalidArgument naming the field, before any job row or event exists", async () => {
    const imageRef = "oci:/img:malformed-scan";
    const requestsBefore = requests.length;
    const report = { matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: ["3.0"], type: "deb" } }] };
    await assert.rejects(
      client.submitAnalysis({ imageRef, imageDigest: DIGEST, vulnerabilityReport: Buffer.from(JSON.stringify(report)) }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.rawMessage.startsWith("vulnerability_report.matches[0].artifact.version: must be a string"),
    );
    assert.equal((await client.listAnalyses({ imageRef })).analyses.length, 0, "no job row");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(requests.length, requestsBefore, "no analysis.requested");
  });

  it("rejects the append-only event log being edited", async () => {
    const { MikroORM } = await import("@mikro-orm/postgresql");
    const orm = await MikroORM.init({ clientUrl: config.databaseUrl, entities: [], discovery: { warnWhenNoEntities: false } });
    try {
      await assert.rejects(orm.em.getConnection().execute(`update orchestrator.job_event set kind = 'x'`), /append-only/);
    } finally {
      await orm.close(true);
    }
  });

  it("streams every change with WatchAnalysis until the job ends", async () => {
    const jobId = await submit();
    const job = await requestFor(jobId, 1);
    const seen: string[] = [];
    const watching = (async () => {
      for await (const u of client.watchAnalysis({ jobId })) seen.push(`${AnalysisStatus[u.analysis!.status]}:${u.analysis!.currentPhase}`);
    })();
    await new Promise((r) => setTimeout(r, 300));
    await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
    await until(async () => (seen.includes("RUNNING:exercising") ? true : undefined));
    await client.cancelAnalysis({ jobId });
    await watching;
    assert.deepEqual(seen, ["QUEUED:setting_up_sandbox", "RUNNING:exercising", "CANCELLED:cancelled"]);
  });

  it("keeps a requested event's payload decodable by the sandbox (schema check of what we publish)", () => {
    const ev = requests[0];
    assert.ok(ev !== undefined);
    assert.equal((ev.payload as { $typeName: string }).$typeName, AnalysisRequestedSchema.typeName);
  });
});
