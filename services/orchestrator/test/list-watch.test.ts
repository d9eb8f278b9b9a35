import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, Code, ConnectError, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AnalysisService,
  AnalysisStatus,
  BlobRefSchema,
  ProfileReadySchema,
  ReachabilityScoredSchema,
  SandboxCompletedSchema,
  SandboxStartedSchema,
  VexArtifact,
  VexSignedSchema,
  type Analysis,
  type JobRef,
} from "@vexxy/proto";
import { connectEventBus, Durables, Subjects, eventMsgId, type EventBus, type InboundEvent } from "@vexxy/events";
import { FilesystemBlobStore } from "@vexxy/blobstore";
import { noopLogger } from "@vexxy/platform";
import { startNatsServer, startPostgres, tempDir, type TempDir } from "@vexxy/testkit";
import { startOrchestratorService, type RunningOrchestrator } from "../src/index.js";
import { testAuth } from "./support/test-auth.js";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const NO_FINDINGS = Buffer.from(JSON.stringify({ matches: [] }));
const ONE_FINDING = Buffer.from(
  JSON.stringify({ matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }] }),
);

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function invalidField(field: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.message, new RegExp(field));
    return true;
  };
}

describe("ListAnalyses, WatchAnalysis and the audit log (real Postgres and JetStream; the test stands in for the four stages)", function () {
  this.timeout(120000);
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let dir: TempDir;
  let orchestrator: RunningOrchestrator;
  let stages: EventBus;
  let client: Client<typeof AnalysisService>;
  const requests: InboundEvent[] = [];

  before(async () => {
    pg = await startPostgres();
    nats = await startNatsServer();
    dir = await tempDir("orch-list-watch");
    const { auth, devAuth } = await testAuth(dir.path, { monthlyLimits: { ultimate: 10000 } });
    orchestrator = await startOrchestratorService(
      {
        auth,
        host: "127.0.0.1",
        port: 0,
        natsUrl: nats.url,
        natsStream: "VEXXY",
        databaseUrl: await pg.createDatabase("listwatch"),
        blobStoreUrl: `file://${dir.path}`,
        logLevel: "error",
        maxAttempts: 2,
        dispatchDeadlineSeconds: 600,
        runGraceSeconds: 600,
        stageDeadlineSeconds: 600,
        maxRedispatches: 0,
        reconcileIntervalMs: 1000,
        eventAckWaitMs: 5000,
        // Long: a watch must wake on the change itself, not on the poll.
        watchPollMs: 30000,
        imageTransports: ["oci:"],
      },
      { logger: noopLogger, blobs: new FilesystemBlobStore(dir.path) },
    );
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

  function requestFor(jobId: string): Promise<JobRef> {
    return until(async () => {
      const ev = requests.find((r) => (r.payload as { job?: JobRef }).job?.jobId === jobId);
      return (ev?.payload as { job?: JobRef } | undefined)?.job;
    });
  }

  async function submit(imageRef: string, digest: string, report: Buffer = NO_FINDINGS): Promise<string> {
    return (await client.submitAnalysis({ imageRef, imageDigest: digest, vulnerabilityReport: report })).jobId;
  }

  describe("ListAnalyses", () => {
    const ids: string[] = [];
    let queuedId: string;

    before(async () => {
      for (let i = 0; i < 7; i++) ids.push(await submit(`oci:/list:${i % 2 === 0 ? "even" : "odd"}`, i < 4 ? DIGEST_A : DIGEST_B));
      queuedId = await submit("oci:/list:queued", DIGEST_B, ONE_FINDING);
    });

    it("pages newest first with an opaque cursor, and jobs submitted between pages neither repeat nor shift a row", async () => {
      const seen: string[] = [];
      let token = "";
      let inserted = 0;
      do {
        const page = await client.listAnalyses({ imageDigest: DIGEST_A, pageSize: 2, pageToken: token });
        assert.ok(page.analyses.length <= 2);
        seen.push(...page.analyses.map((a) => a.jobId));
        token = page.nextPageToken;
        if (inserted < 3) {
          // Newer rows land before the cursor: the pages already handed out stay valid.
          await submit("oci:/list:late", DIGEST_A);
          inserted++;
        }
      } while (token !== "");
      assert.deepEqual(seen, ids.slice(0, 4).reverse());
      assert.equal(new Set(seen).size, seen.length);
      const all = await client.listAnalyses({ imageDigest: DIGEST_A, pageSize: 100 });
      assert.equal(all.analyses.length, 4 + inserted);
      const times = all.analyses.map((a) => timestampDate(a.createdAt!).getTime());
      assert.deepEqual(
        times,
        [...times].sort((x, y) => y - x),
      );
    });

    it("filters by status, image digest, image ref and created range", async () => {
      const queued = await client.listAnalyses({ status: AnalysisStatus.QUEUED, pageSize: 100 });
      assert.deepEqual(
        queued.analyses.map((a) => a.jobId),
        [queuedId],
      );
      const complete = await client.listAnalyses({ status: AnalysisStatus.COMPLETE, imageDigest: DIGEST_B, pageSize: 100 });
      assert.deepEqual(complete.analyses.map((a) => a.jobId).sort(), ids.slice(4).sort());
      const odd = await client.listAnalyses({ imageRef: "oci:/list:odd", pageSize: 100 });
      assert.deepEqual(odd.analyses.map((a) => a.jobId).sort(), [ids[1], ids[3], ids[5]].sort());
      const created = await Promise.all(ids.map(async (jobId) => timestampDate((await client.getAnalysis({ jobId })).analysis!.createdAt!)));
      const range = await client.listAnalyses({
        createdAfter: timestampFromDate(created[2]!),
        createdBefore: timestampFromDate(created[5]!),
        pageSize: 100,
      });
      const inRange = range.analyses.map((a) => a.jobId);
      assert.ok(inRange.includes(ids[2]!), "created_after is inclusive");
      assert.ok(!inRange.includes(ids[5]!), "created_before is exclusive");
      assert.ok(inRange.includes(ids[4]!));
      assert.ok(!inRange.includes(ids[1]!));
    });

    it("refuses a bad page token, page size or created range with InvalidArgument naming the field", async () => {
      await assert.rejects(client.listAnalyses({ pageToken: "bm90LWEtdG9rZW4" }), invalidField("page_token"));
      await assert.rejects(client.listAnalyses({ pageToken: Buffer.from("o:20").toString("base64url") }), invalidField("page_token"));
      await assert.rejects(client.listAnalyses({ pageSize: 101 }), invalidField("page_size"));
      const now = new Date();
      await assert.rejects(
        client.listAnalyses({ createdAfter: timestampFromDate(now), createdBefore: timestampFromDate(new Date(now.getTime() - 1000)) }),
        invalidField("created_before"),
      );
      await assert.rejects(client.listAnalyses({ createdAfter: { seconds: 10n ** 15n, nanos: 0 } }), invalidField("created_after"));
    });

    it("uses a default page size of 20", async () => {
      for (let i = 0; i < 14; i++) await submit("oci:/list:bulk", DIGEST_B);
      const page = await client.listAnalyses({});
      assert.equal(page.analyses.length, 20);
      assert.notEqual(page.nextPageToken, "");
    });
  });

  describe("WatchAnalysis", () => {
    async function collect(jobId: string, onFirst?: () => Promise<void>): Promise<Analysis[]> {
      const got: Analysis[] = [];
      for await (const m of client.watchAnalysis({ jobId })) {
        got.push(m.analysis!);
        if (got.length === 1 && onFirst !== undefined) await onFirst();
      }
      return got;
    }

    it("sends a late subscriber the job's current state first", async () => {
      const jobId = await submit("oci:/watch:late", DIGEST_A, ONE_FINDING);
      const job = await requestFor(jobId);
      await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
      await until(async () => ((await client.getAnalysis({ jobId })).analysis!.status === AnalysisStatus.RUNNING ? true : undefined));
      const controller = new AbortController();
      const stream = client.watchAnalysis({ jobId }, { signal: controller.signal })[Symbol.asyncIterator]();
      const first = await stream.next();
      controller.abort();
      await stream.return?.().catch(() => undefined);
      assert.equal(first.done, false);
      assert.equal(first.value.analysis!.status, AnalysisStatus.RUNNING);
      assert.equal(first.value.analysis!.currentPhase, "exercising");
      assert.equal(first.value.analysis!.progressPercent, 50);
      await client.cancelAnalysis({ jobId });
    });

    it("streams every status, phase and progress change, even several between two reads, and ends at COMPLETE", async () => {
      const jobId = await submit("oci:/watch:all", DIGEST_A, ONE_FINDING);
      const job = await requestFor(jobId);
      const files = new FilesystemBlobStore(dir.path);
      const doc = await files.put(`jobs/${jobId}/attempts/1/openvex.json`, Buffer.from('{"statements":[]}'));
      const ref = create(BlobRefSchema, { key: doc.key, sha256: doc.sha256, size: BigInt(doc.size) });
      const started = Date.now();
      const messages = await collect(jobId, async () => {
        // All five events at once: the watch must not fold them into the last one.
        await stages.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job }), eventMsgId(Subjects.sandboxStarted, jobId, 1));
        await stages.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job }), eventMsgId(Subjects.sandboxCompleted, jobId, 1));
        await stages.publish(Subjects.profileReady, create(ProfileReadySchema, { job }), eventMsgId(Subjects.profileReady, jobId, 1));
        await stages.publish(Subjects.reachabilityScored, create(ReachabilityScoredSchema, { job }), eventMsgId(Subjects.reachabilityScored, jobId, 1));
        await stages.publish(
          Subjects.vexSigned,
          create(VexSignedSchema, { job, documentId: `urn:test:${jobId}`, document: ref, bundle: ref, publicKey: ref }),
          eventMsgId(Subjects.vexSigned, jobId, 1),
        );
      });
      // Every change the job went through, in order, is one message: the stream equals the job's
      // event log from the state the watch started at. (The stages' events may be applied out of
      // order under load, and a phase overtaken by a later one is then skipped by the lifecycle
      // itself; the log is the record of what the job really went through.)
      const log = (await orchestrator.store.events(jobId)).map((e) => [e.phase, e.progressPercent, e.status]);
      const fromFirst = log.slice(log.findIndex((e) => e[0] === messages[0]!.currentPhase));
      const deduped = fromFirst.filter((e, i) => i === 0 || JSON.stringify(e) !== JSON.stringify(fromFirst[i - 1]));
      assert.deepEqual(
        messages.map((m) => [m.currentPhase, m.progressPercent, AnalysisStatus[m.status]]),
        deduped,
      );
      assert.deepEqual(messages[0]!.currentPhase, "setting_up_sandbox");
      assert.deepEqual([messages.at(-1)!.currentPhase, messages.at(-1)!.progressPercent, messages.at(-1)!.status], ["complete", 100, AnalysisStatus.COMPLETE]);
      assert.ok(messages.length >= 4, `several changes streamed (got ${messages.length})`);
      assert.ok(messages.at(-1)!.completedAt !== undefined);
      assert.ok(Date.now() - started < 20000, "changes arrive as they happen, not at the 30 s poll");

      // The audit log: results read and VEX download by the token's subject.
      await client.getAnalysisResults({ jobId });
      let bytes = 0;
      for await (const chunk of client.downloadVex({ jobId, artifact: VexArtifact.DOCUMENT })) bytes += chunk.data.length;
      assert.equal(bytes, doc.size);
      const audit = await orchestrator.audit.forJob(jobId);
      assert.deepEqual(
        audit.map((a) => a.action),
        ["submit", "results_read", "vex_download"],
      );
      for (const row of audit) {
        assert.equal(row.organizationId, "dev");
        assert.equal(row.subject, "dev-user");
        assert.ok(row.at instanceof Date);
      }
    });

    it("ends the stream at CANCELLED and records the cancel in the audit log", async () => {
      const jobId = await submit("oci:/watch:cancel", DIGEST_B, ONE_FINDING);
      await requestFor(jobId);
      const messages = await collect(jobId, async () => {
        await client.cancelAnalysis({ jobId, reason: "stop" });
      });
      assert.equal(messages.at(-1)!.status, AnalysisStatus.CANCELLED);
      assert.equal(messages.at(-1)!.errorMessage, "cancelled: stop");
      assert.deepEqual(
        (await orchestrator.audit.forJob(jobId)).map((a) => [a.action, a.subject]),
        [
          ["submit", "dev-user"],
          ["cancel", "dev-user"],
        ],
      );
      // A watch of a job already final sends its state once and ends.
      const again = await collect(jobId);
      assert.equal(again.length, 1);
      assert.equal(again[0]!.status, AnalysisStatus.CANCELLED);
    });
  });
});
