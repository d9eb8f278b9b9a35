import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { Subjects, connectEventBus, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { noopLogger } from "@vexxy/platform";
import {
  AnalysisCancelledSchema,
  BlobRefSchema,
  ProfileSummarySchema,
  ReachabilityScoredSchema,
  VerdictSchema,
  VexService,
  VexStatus,
  type AnalysisFailed,
  type BlobRef,
  type JobRef,
  type Verdict,
  type VexSigned,
} from "@vexxy/proto";
import {
  TEST_INTERNAL_TOKEN,
  startNatsServer,
  startPostgres,
  tempDir,
  testInternalAuth,
  type NatsServer,
  type PostgresServer,
  type TempDir,
} from "@vexxy/testkit";
import type { VexConfig } from "../src/config.js";
import { startVexService, type RunningVex } from "../src/service.js";
import { openVexProblems, verifyBundle } from "../src/lib.js";
import { DIGEST_HEX, sampleJob, sampleVerdicts } from "./helpers.js";

describe("VEX service (real nats-server, embedded Postgres, filesystem blob store)", function () {
  this.timeout(120000);
  let pg: PostgresServer;
  let nats: NatsServer;
  let dir: TempDir;
  let blobs: BlobStore;
  let bus: EventBus;
  let serviceBus: EventBus;
  /** Every publish the service made (subject, msgId), in order: the stream hides de-duplicated ones. */
  const published: { subject: string; msgId: string }[] = [];
  let ledger: StageLedger;
  let service: RunningVex;
  let databaseUrl: string;
  let natsStream: string;
  let observer: Subscription;
  const seen: InboundEvent[] = [];

  before(async () => {
    dir = await tempDir("vex-service");
    pg = await startPostgres();
    databaseUrl = await pg.createDatabase("vex_test");
    nats = await startNatsServer({ storeDir: join(dir.path, "nats") });
    natsStream = `T${randomUUID().replace(/-/g, "")}`;
    const config: VexConfig = Object.freeze({
      internalAuthToken: TEST_INTERNAL_TOKEN,
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream,
      databaseUrl,
      blobStoreUrl: `file://${join(dir.path, "blobs")}`,
      logLevel: "error",
      eventAckWaitMs: 5000,
      signingKeyFile: undefined,
      stateDir: join(dir.path, "state"),
      author: "VEXxy runtime reachability",
      idBase: "https://vexxy.dev/vex/",
    });
    blobs = createBlobStore(config.blobStoreUrl);
    bus = await connectEventBus({ servers: config.natsUrl, name: "vex-test", streamName: config.natsStream, logger: noopLogger });
    ledger = await openStageLedger({ databaseUrl, schema: "vex", logger: noopLogger });
    // The service's own connection to the real nats-server, with its publishes recorded.
    const real = await connectEventBus({ servers: config.natsUrl, name: "vex", streamName: config.natsStream, logger: noopLogger });
    serviceBus = {
      publish: async (subject, payload, msgId) => {
        published.push({ subject, msgId });
        await real.publish(subject, payload, msgId);
      },
      consume: (options, handler) => real.consume(options, handler),
      close: () => real.close(),
    };
    service = await startVexService(config, { logger: noopLogger, bus: serviceBus });
    observer = await bus.consume({ durable: "test-observer", subjects: [Subjects.vexSigned, Subjects.analysisFailed] }, async (event) => {
      seen.push(event);
    });
  });

  after(async () => {
    await observer?.stop();
    await service?.close();
    await serviceBus?.close();
    await bus?.close();
    await ledger?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  function newJob(overrides: Partial<Pick<JobRef, "attempt" | "imageRef" | "imageDigest" | "imageName">> = {}): JobRef {
    return sampleJob({ jobId: randomUUID(), ...overrides });
  }

  async function publishScored(
    job: JobRef,
    verdicts = sampleVerdicts(),
    msgId = eventMsgId(Subjects.reachabilityScored, job.jobId, job.attempt),
  ): Promise<void> {
    const profile = create(ProfileSummarySchema, { durationSeconds: 3, filesAccessed: 120, executablesRun: 3, complete: true, codeCoveragePercent: 62 });
    const verdictsBlob = await storeVerdicts(job, verdicts);
    // As reachability publishes it: the blob's key and sha256, never the verdicts.
    await bus.publish(Subjects.reachabilityScored, create(ReachabilityScoredSchema, { job, verdictsBlob, verdictCount: verdicts.length, profile }), msgId);
  }

  /** Writes the verdicts blob as reachability does (outside jobs/<id>/ so the VEX stage's own writes are listed alone). */
  async function storeVerdicts(job: JobRef, verdicts: Verdict[]): Promise<BlobRef> {
    const body = toJsonString(ReachabilityScoredSchema, create(ReachabilityScoredSchema, { job, verdicts }));
    const info = await blobs.put(`reachability/${job.jobId}/attempts/${job.attempt}/verdicts.json`, Buffer.from(body));
    return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
  }

  function eventsFor(jobId: string, subject: string): InboundEvent[] {
    return seen.filter((e) => e.subject === subject && (e.payload as VexSigned).job?.jobId === jobId);
  }

  async function eventFor(jobId: string, subject: string, timeoutMs = 20000): Promise<InboundEvent> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = eventsFor(jobId, subject)[0];
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${subject} for job ${jobId} within ${timeoutMs} ms (seen: ${seen.map((e) => e.subject).join(", ")})`);
  }

  function client() {
    return createClient(VexService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.port}`, interceptors: [testInternalAuth()] }));
  }

  it("turns reachability.scored into vex.signed: verdicts read from the blob, document, bundle and key stored under the attempt, verdicts blob and profile passed through", async () => {
    const job = newJob();
    await publishScored(job);
    const event = await eventFor(job.jobId, Subjects.vexSigned);
    assert.equal(event.msgId, eventMsgId(Subjects.vexSigned, job.jobId, 1));
    const signed = event.payload as VexSigned;
    const base = `jobs/${job.jobId}/attempts/1`;
    assert.equal(signed.documentId, `https://vexxy.dev/vex/${job.jobId}/1`);
    assert.equal(signed.document?.key, `${base}/openvex.json`);
    assert.equal(signed.bundle?.key, `${base}/openvex.sigstore.json`);
    assert.equal(signed.publicKey?.key, `${base}/vex-signing.pub.pem`);
    assert.equal(signed.verdicts.length, 0, "vex.signed carries no verdicts");
    assert.equal(signed.verdictCount, 4);
    assert.equal(signed.verdictsBlob?.key, `reachability/${job.jobId}/attempts/1/verdicts.json`);
    assert.equal(signed.profile?.codeCoveragePercent, 62);

    const document = JSON.parse(
      (await blobs.getVerified({ key: signed.document?.key ?? "", sha256: signed.document?.sha256 ?? "" })).toString("utf8"),
    ) as Record<string, unknown>;
    assert.deepEqual(openVexProblems(document), []);
    assert.equal(document["@id"], signed.documentId);
    const bundle = (await blobs.getVerified({ key: signed.bundle?.key ?? "", sha256: signed.bundle?.sha256 ?? "" })).toString("utf8");
    const pem = (await blobs.get(`${base}/vex-signing.pub.pem`)).toString("utf8");
    assert.equal(pem, service.publicKeyPem);
    const statement = verifyBundle(bundle, pem);
    assert.deepEqual(statement.predicate, document);
    assert.deepEqual(statement.subject, [{ name: "ghcr.io/example/demo-image", digest: { sha256: DIGEST_HEX } }]);
    assert.equal(signed.conformance?.summary, "Grype would suppress 2 of 2, Trivy 2 of 2");
    assert.equal(signed.conformance?.report?.key, `${base}/vex-conformance.json`);
    const report = JSON.parse(
      (await blobs.getVerified({ key: signed.conformance?.report?.key ?? "", sha256: signed.conformance?.report?.sha256 ?? "" })).toString("utf8"),
    ) as { registry: { statements: unknown[] } };
    assert.equal(report.registry.statements.length, 2);
    assert.equal((await ledger.get(job.jobId, "vex", 1))?.state, "done");
  });

  it("answers a redelivered reachability.scored with the same vex.signed and leaves exactly one VEX document", async () => {
    const job = newJob();
    await publishScored(job);
    const first = (await eventFor(job.jobId, Subjects.vexSigned)).payload as VexSigned;
    const before = await blobs.list(`jobs/${job.jobId}/`);
    const documentBytes = await blobs.get(first.document?.key ?? "");
    const signedMsgId = eventMsgId(Subjects.vexSigned, job.jobId, 1);
    const publishesOfJob = () => published.filter((p) => p.msgId === signedMsgId);
    assert.equal(publishesOfJob().length, 1);
    // A new Nats-Msg-Id gets past the stream's de-duplication, as a redelivery after the window would.
    await publishScored(job, sampleVerdicts(), `${eventMsgId(Subjects.reachabilityScored, job.jobId, 1)}:again`);
    const deadline = Date.now() + 10000;
    while (publishesOfJob().length < 2) {
      assert.ok(Date.now() < deadline, "the redelivered event was answered by re-publishing vex.signed");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await blobs.list(`jobs/${job.jobId}/`);
    assert.deepEqual(after, before);
    assert.deepEqual(
      after.filter((k) => k.endsWith("openvex.json")),
      [`jobs/${job.jobId}/attempts/1/openvex.json`],
    );
    assert.deepEqual(await blobs.get(first.document?.key ?? ""), documentBytes, "the document was not rewritten");
    assert.equal((await ledger.listByJob(job.jobId)).filter((r) => r.stage === "vex").length, 1);
    // The re-published vex.signed has the same Nats-Msg-Id, so the stream dropped it as a duplicate.
    assert.deepEqual(
      publishesOfJob().map((p) => p.subject),
      [Subjects.vexSigned, Subjects.vexSigned],
    );
    const signedEvents = eventsFor(job.jobId, Subjects.vexSigned);
    assert.equal(signedEvents.length, 1);
    assert.equal(signedEvents[0]?.msgId, signedMsgId);
    const answer = await client().getVex({ jobId: job.jobId });
    assert.equal(answer.documentJson, documentBytes.toString("utf8"));
    assert.equal(answer.documentId, first.documentId);
  });

  it("publishes analysis.failed {stage vex, retryable false} for a not_affected verdict without justification, and stores no document", async () => {
    const job = newJob();
    const unjustified = create(VerdictSchema, {
      vulnerabilityId: "CVE-2024-0001",
      packageName: "zlib",
      packagePurl: "pkg:deb/debian/zlib1g@1.2.13",
      status: VexStatus.NOT_AFFECTED,
      reason: "not touched",
    });
    await publishScored(job, [...sampleVerdicts(), unjustified]);
    const failed = (await eventFor(job.jobId, Subjects.analysisFailed)).payload as AnalysisFailed;
    assert.equal(failed.stage, "vex");
    assert.equal(failed.reason, "invalid_vex_document");
    assert.equal(failed.retryable, false);
    assert.match(failed.message, /not_affected without a justification/);
    assert.equal((await eventFor(job.jobId, Subjects.analysisFailed)).msgId, `${eventMsgId(Subjects.analysisFailed, job.jobId, 1)}:vex`);
    assert.deepEqual(await blobs.list(`jobs/${job.jobId}/`), []);
    assert.equal((await ledger.get(job.jobId, "vex", 1))?.state, "failed");
    assert.equal(eventsFor(job.jobId, Subjects.vexSigned).length, 0);
    await assert.rejects(client().getVex({ jobId: job.jobId }), (error: unknown) => error instanceof ConnectError && error.code === Code.FailedPrecondition);
  });

  it("publishes analysis.failed no_image_name for an image with no repository name (never a file name), and no_verdicts for a job without verdicts", async () => {
    const badRef = newJob({ imageRef: "oci:/tmp/layouts/app:demo", imageName: "" });
    await publishScored(badRef);
    const failed = (await eventFor(badRef.jobId, Subjects.analysisFailed)).payload as AnalysisFailed;
    assert.equal(failed.reason, "no_image_name");
    assert.match(failed.message, /image_ref oci:\/tmp\/layouts\/app:demo names no repository.*--image-name/);
    const empty = newJob();
    await publishScored(empty, []);
    assert.equal(((await eventFor(empty.jobId, Subjects.analysisFailed)).payload as AnalysisFailed).reason, "no_verdicts");
  });

  it("publishes analysis.failed {stage vex, input_altered / input_missing, retryable true} for a verdicts blob that fails its sha256 or is gone", async () => {
    const altered = newJob();
    const ref = await storeVerdicts(altered, sampleVerdicts());
    await blobs.put(ref.key, Buffer.from("{}"));
    await bus.publish(
      Subjects.reachabilityScored,
      create(ReachabilityScoredSchema, { job: altered, verdictsBlob: ref, verdictCount: 4 }),
      eventMsgId(Subjects.reachabilityScored, altered.jobId, 1),
    );
    const failed = (await eventFor(altered.jobId, Subjects.analysisFailed)).payload as AnalysisFailed;
    assert.deepEqual([failed.stage, failed.reason, failed.retryable], ["vex", "input_altered", true]);
    assert.match(failed.message, /do not match their sha256/);
    assert.equal((await ledger.get(altered.jobId, "vex", 1))?.state, "failed");
    assert.deepEqual(await blobs.list(`jobs/${altered.jobId}/`), []);

    const missing = newJob();
    const gone = create(BlobRefSchema, { key: `reachability/${missing.jobId}/attempts/1/verdicts.json`, sha256: "0".repeat(64) });
    await bus.publish(
      Subjects.reachabilityScored,
      create(ReachabilityScoredSchema, { job: missing, verdictsBlob: gone, verdictCount: 4 }),
      eventMsgId(Subjects.reachabilityScored, missing.jobId, 1),
    );
    const lost = (await eventFor(missing.jobId, Subjects.analysisFailed)).payload as AnalysisFailed;
    assert.deepEqual([lost.reason, lost.retryable], ["input_missing", true]);
  });

  it("drops a reachability.scored of an attempt that was cancelled first", async () => {
    const job = newJob();
    await bus.publish(
      Subjects.analysisCancelled,
      create(AnalysisCancelledSchema, { job, reason: "user" }),
      eventMsgId(Subjects.analysisCancelled, job.jobId, 1),
    );
    const deadline = Date.now() + 10000;
    while ((await ledger.get(job.jobId, "vex", 1))?.state !== "cancelled") {
      assert.ok(Date.now() < deadline, "the attempt is marked cancelled");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await publishScored(job);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(seen.filter((e) => (e.payload as VexSigned).job?.jobId === job.jobId).length, 0, "neither signed nor failed");
    assert.deepEqual(await blobs.list(`jobs/${job.jobId}/`), []);
  });

  it("serves GetSigningKey (the key of every bundle), VerifyBundle (true for its own, false with a reason for a tampered one) and GetVex errors by field", async () => {
    const key = await client().getSigningKey({});
    assert.equal(key.publicKeyPem, service.publicKeyPem);
    assert.match(key.keyHint, /^[A-Za-z0-9+/]{43}=$/);

    const job = newJob();
    await publishScored(job);
    await eventFor(job.jobId, Subjects.vexSigned);
    const vex = await client().getVex({ jobId: job.jobId });
    const verified = await client().verifyBundle({ bundleJson: vex.bundleJson });
    assert.equal(verified.verified, true);
    assert.deepEqual(JSON.parse(verified.documentJson), JSON.parse(vex.documentJson));
    assert.equal((JSON.parse(vex.bundleJson) as { verificationMaterial: { publicKey: { hint: string } } }).verificationMaterial.publicKey.hint, key.keyHint);

    const bundle = JSON.parse(vex.bundleJson) as { dsseEnvelope: { payload: string } };
    const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64");
    payload[10] = (payload[10] ?? 0) ^ 0x01;
    bundle.dsseEnvelope.payload = payload.toString("base64");
    const refused = await client().verifyBundle({ bundleJson: JSON.stringify(bundle) });
    assert.equal(refused.verified, false);
    assert.match(refused.error, /bundle verification failed/);
    assert.equal(refused.documentJson, "");

    await assert.rejects(
      client().verifyBundle({ bundleJson: "" }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument && /bundle_json/.test(error.rawMessage),
    );
    await assert.rejects(
      client().getVex({ jobId: "" }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument && /^job_id/.test(error.rawMessage),
    );
    await assert.rejects(
      client().getVex({ jobId: randomUUID() }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound && /job_id/.test(error.rawMessage),
    );
  });

  it("runs as a process from main.ts: logs (JSON lines on stderr) listening with its port after generating a key in VEX_STATE_DIR, and exits 0 on SIGTERM", async () => {
    const stateDir = join(dir.path, "main-state");
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      env: {
        PATH: process.env["PATH"] ?? "",
        PORT: "0",
        NATS_URL: nats.url,
        NATS_STREAM: natsStream,
        DATABASE_URL: databaseUrl,
        BLOB_STORE_URL: `file://${join(dir.path, "blobs")}`,
        VEX_STATE_DIR: stateDir,
        LOG_LEVEL: "info",
        INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      const lines: Record<string, unknown>[] = [];
      const reader = createInterface({ input: child.stderr });
      const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line within 60 s: ${JSON.stringify(lines)}`)), 60000);
        reader.on("line", (line) => {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed["msg"] === "listening") {
            clearTimeout(timer);
            resolve(parsed);
          }
        });
        child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${JSON.stringify(lines)}`)));
      });
      assert.ok(typeof listening["port"] === "number" && listening["port"] > 0);
      assert.ok(lines.some((l) => /generated a new VEX signing key/.test(String(l["msg"]))));
      assert.ok(existsSync(join(stateDir, "vex-signing.key.pem")));
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      assert.equal(code, 0, `exit ${code} signal ${signal}: ${JSON.stringify(lines.slice(-5))}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
