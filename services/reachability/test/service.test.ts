import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { Subjects, connectEventBus, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { noopLogger } from "@vexxy/platform";
import {
  AnalysisCancelledSchema,
  BlobRefSchema,
  JobRefSchema,
  ProfileReadySchema,
  ReachabilityScoredSchema,
  ReachabilityService,
  VexJustification,
  VexStatus,
  WorkloadOutcome,
  type AnalysisFailed,
  type BlobRef,
  type ReachabilityScored,
} from "@vexxy/proto";
import { TEST_INTERNAL_TOKEN, startNatsServer, startPostgres, tempDir, testInternalAuth, type PostgresServer, type TempDir } from "@vexxy/testkit";
import { ExecutionProfileSchema, ImageCatalogueSchema, healthV1 } from "@vexxy/proto";
import { bearerInterceptor } from "@vexxy/auth";
import type { ReachabilityConfig } from "../src/config.js";
import { startReachabilityService, type RunningReachability } from "../src/service.js";
import { access, demoCatalogue, fixture, profile } from "./helpers.js";

const quiet = noopLogger;

describe("reachability service (real nats-server, embedded Postgres, filesystem blob store)", function () {
  this.timeout(120000);
  let pg: PostgresServer;
  let nats: { url: string; stop(): Promise<void> };
  let dir: TempDir;
  let blobs: BlobStore;
  let bus: EventBus;
  let ledger: StageLedger;
  let service: RunningReachability;
  let observer: Subscription;
  const seen: InboundEvent[] = [];

  before(async () => {
    dir = await tempDir("reachability-service");
    pg = await startPostgres();
    const databaseUrl = await pg.createDatabase("reachability_test");
    nats = await startNatsServer({ storeDir: join(dir.path, "nats") });
    const config: ReachabilityConfig = Object.freeze({
      internalAuthToken: TEST_INTERNAL_TOKEN,
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: `T${randomUUID().replace(/-/g, "")}`,
      databaseUrl,
      blobStoreUrl: `file://${join(dir.path, "blobs")}`,
      logLevel: "error",
      eventAckWaitMs: 5000,
    });
    blobs = createBlobStore(config.blobStoreUrl);
    bus = await connectEventBus({ servers: config.natsUrl, name: "reachability-test", streamName: config.natsStream, logger: quiet });
    ledger = await openStageLedger({ databaseUrl, schema: "reachability", logger: quiet });
    service = await startReachabilityService(config, { logger: quiet });
    observer = await bus.consume({ durable: "test-observer", subjects: [Subjects.reachabilityScored, Subjects.analysisFailed] }, async (event) => {
      seen.push(event);
    });
  });

  after(async () => {
    await observer?.stop();
    await service?.close();
    await bus?.close();
    await ledger?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  async function put(key: string, body: string | Buffer): Promise<BlobRef> {
    const info = await blobs.put(key, typeof body === "string" ? Buffer.from(body) : body);
    return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
  }

  /** Stores the inputs of one job and publishes its profile.ready. */
  async function submit(scan: string | Buffer, attempt = 1): Promise<string> {
    const jobId = randomUUID();
    const run = profile(
      [
        access("/app/run.sh", "exec"),
        access("/usr/bin/tar", "exec"),
        access("/usr/bin/sha256sum", "exec"),
        access("/lib/x86_64-linux-gnu/libc.so.6", "open", 5),
      ],
      { jobId, attempt, durationSeconds: 3 },
    );
    const scanRef = await put(`jobs/${jobId}/scan.json`, scan);
    const profileRef = await put(`jobs/${jobId}/attempts/${attempt}/profile.json`, toJsonString(ExecutionProfileSchema, run));
    const catalogueRef = await put(`jobs/${jobId}/attempts/${attempt}/catalogue.json`, toJsonString(ImageCatalogueSchema, demoCatalogue()));
    const ready = create(ProfileReadySchema, {
      job: create(JobRefSchema, { jobId, attempt, organizationId: "org", imageRef: "oci:/x:demo", imageDigest: `sha256:${"e".repeat(64)}`, scan: scanRef }),
      profile: profileRef,
      catalogue: catalogueRef,
      complete: true,
      outcome: WorkloadOutcome.EXITED_OK,
      durationSeconds: 3,
    });
    await bus.publish(Subjects.profileReady, ready, eventMsgId(Subjects.profileReady, jobId, attempt));
    return jobId;
  }

  async function eventFor(jobId: string, subject: string, timeoutMs = 20000): Promise<InboundEvent> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = seen.find((e) => e.subject === subject && (e.payload as ReachabilityScored).job?.jobId === jobId);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${subject} for job ${jobId} within ${timeoutMs} ms (seen: ${seen.map((e) => e.subject).join(", ")})`);
  }

  function client() {
    return createClient(ReachabilityService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.port}`, interceptors: [testInternalAuth()] }));
  }

  it("scores a profile.ready: verdicts.json stored, reachability.scored published with its key, sha256, count and summary (no verdicts), GetVerdicts returns them", async () => {
    const jobId = await submit(fixture("../../../../deploy/local/demo-image/scan.grype.json"));
    const event = await eventFor(jobId, Subjects.reachabilityScored);
    assert.equal(event.msgId, eventMsgId(Subjects.reachabilityScored, jobId, 1));
    const published = event.payload as ReachabilityScored;
    assert.equal(published.verdicts.length, 0, "the event carries no verdicts");
    assert.ok(published.verdictsBlob !== undefined);
    const scored = fromJsonString(ReachabilityScoredSchema, (await blobs.getVerified(published.verdictsBlob)).toString("utf8"));
    assert.equal(published.verdictCount, scored.verdicts.length);
    assert.ok(scored.verdicts.length > 0);
    const verdict = (id: string, pkg: string) => scored.verdicts.find((v) => v.vulnerabilityId === id && v.packageName === pkg);
    assert.equal(verdict("CVE-2005-2541", "tar")?.status, VexStatus.AFFECTED);
    assert.equal(verdict("CVE-2011-3374", "apt")?.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    assert.equal(verdict("CVE-2023-38545", "curl")?.justification, VexJustification.COMPONENT_NOT_PRESENT);
    assert.equal(verdict("GHSA-35jh-r3h4-6jhm", "lodash")?.status, VexStatus.UNDER_INVESTIGATION);
    assert.equal(published.profile?.executablesRun, 3);
    assert.equal(published.verdictsBlob?.key, `jobs/${jobId}/attempts/1/verdicts.json`);
    assert.ok(await blobs.exists(`jobs/${jobId}/attempts/1/verdicts.json`));
    assert.equal((await ledger.get(jobId, "reachability", 1))?.state, "done");

    const answer = await client().getVerdicts({ jobId });
    assert.equal(answer.attempt, 1);
    assert.equal(answer.verdicts.length, scored.verdicts.length);
    assert.equal(answer.verdicts.find((v) => v.packageName === "tar")?.status, VexStatus.AFFECTED);
  });

  it("publishes analysis.failed {stage reachability, retryable false} naming vulnerability_report.matches for a report of unknown format", async () => {
    const jobId = await submit('{"bomFormat":"CycloneDX"}');
    const failed = (await eventFor(jobId, Subjects.analysisFailed)).payload as AnalysisFailed;
    assert.equal(failed.stage, "reachability");
    assert.equal(failed.retryable, false);
    assert.equal(failed.reason, "invalid_vulnerability_report");
    assert.match(failed.message, /^vulnerability_report\.matches: /);
    assert.equal((await ledger.get(jobId, "reachability", 1))?.state, "failed");
    await assert.rejects(client().getVerdicts({ jobId }), (error: unknown) => error instanceof ConnectError && error.code === Code.FailedPrecondition);
  });

  it("answers a redelivered profile.ready of a done attempt from the record, without reading the inputs again", async () => {
    const jobId = await submit(fixture("../../../../deploy/local/demo-image/scan.grype.json"));
    const first = (await eventFor(jobId, Subjects.reachabilityScored)).payload as ReachabilityScored;
    assert.ok(first.verdictCount > 0);
    // With the scan gone, scoring again would fail; replaying the record cannot.
    await blobs.delete(`jobs/${jobId}/scan.json`);
    const ready = create(ProfileReadySchema, {
      job: create(JobRefSchema, { jobId, attempt: 1, scan: create(BlobRefSchema, { key: `jobs/${jobId}/scan.json`, sha256: "0".repeat(64) }) }),
      profile: create(BlobRefSchema, { key: `jobs/${jobId}/attempts/1/profile.json`, sha256: "0".repeat(64) }),
      catalogue: create(BlobRefSchema, { key: `jobs/${jobId}/attempts/1/catalogue.json`, sha256: "0".repeat(64) }),
      complete: true,
    });
    await bus.publish(Subjects.profileReady, ready, `${eventMsgId(Subjects.profileReady, jobId, 1)}:redelivered`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(seen.filter((e) => e.subject === Subjects.analysisFailed && (e.payload as AnalysisFailed).job?.jobId === jobId).length, 0);
    assert.equal((await ledger.get(jobId, "reachability", 1))?.state, "done");
    const answer = await client().getVerdicts({ jobId });
    assert.equal(answer.verdicts.length, first.verdictCount);
  });

  it("drops a profile.ready of an attempt that was cancelled first", async () => {
    const jobId = randomUUID();
    await bus.publish(
      Subjects.analysisCancelled,
      create(AnalysisCancelledSchema, { job: create(JobRefSchema, { jobId, attempt: 1 }), reason: "user" }),
      `${eventMsgId(Subjects.analysisCancelled, jobId, 1)}`,
    );
    const deadline = Date.now() + 10000;
    while ((await ledger.get(jobId, "reachability", 1))?.state !== "cancelled") {
      assert.ok(Date.now() < deadline, "the attempt is marked cancelled");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const ready = create(ProfileReadySchema, { job: create(JobRefSchema, { jobId, attempt: 1 }), complete: true });
    await bus.publish(Subjects.profileReady, ready, eventMsgId(Subjects.profileReady, jobId, 1));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(seen.filter((e) => (e.payload as AnalysisFailed).job?.jobId === jobId).length, 0, "neither scored nor failed");
    assert.equal((await ledger.get(jobId, "reachability", 1))?.state, "cancelled");
  });

  it("refuses GetVerdicts without the mesh's internal secret, or with a wrong one, with Unauthenticated; health stays open", async () => {
    const baseUrl = `http://127.0.0.1:${service.port}`;
    const bare = createClient(ReachabilityService, createGrpcTransport({ baseUrl }));
    const wrong = createClient(ReachabilityService, createGrpcTransport({ baseUrl, interceptors: [bearerInterceptor(`${TEST_INTERNAL_TOKEN}x`)] }));
    for (const [name, c] of [
      ["no secret", bare],
      ["wrong secret", wrong],
    ] as const) {
      await assert.rejects(
        c.getVerdicts({ jobId: randomUUID() }),
        (err: unknown) => err instanceof ConnectError && err.code === Code.Unauthenticated && !err.rawMessage.includes(TEST_INTERNAL_TOKEN),
        name,
      );
    }
    const health = await createClient(healthV1.Health, createGrpcTransport({ baseUrl })).check({ service: "" });
    assert.equal(health.status, healthV1.HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers GetVerdicts with NotFound naming job_id for a job never scored, and InvalidArgument for an empty job_id", async () => {
    await assert.rejects(client().getVerdicts({ jobId: randomUUID() }), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.NotFound);
      assert.match(error.rawMessage, /job_id/);
      return true;
    });
    await assert.rejects(client().getVerdicts({ jobId: "" }), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^job_id/);
      return true;
    });
  });
});
