import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Subjects, connectEventBus, eventMsgId, type EventBus, type EventPayload, type Subject } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { ConfigError, noopLogger, type MeshServiceConfig } from "@vexxy/platform";
import { JobRefSchema, ProfileReadySchema, ReachabilityService, ReachabilityScoredSchema, type JobRef } from "@vexxy/proto";
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
import { StageCancelled, StageFailure, StageLifecycle, startMeshService, type StageSpec } from "../src/index.js";

/** The real bus, recording every publish (the stream de-duplicates, so a replay is only visible here). */
function recording(bus: EventBus): { bus: EventBus; published: Array<{ subject: Subject; msgId: string; payload: unknown }> } {
  const published: Array<{ subject: Subject; msgId: string; payload: unknown }> = [];
  return {
    published,
    bus: {
      ...bus,
      consume: (options, handler) => bus.consume(options, handler),
      close: () => bus.close(),
      async publish<S extends Subject>(subject: S, payload: EventPayload<S>, msgId: string) {
        published.push({ subject, msgId, payload });
        await bus.publish(subject, payload, msgId);
      },
    },
  };
}

describe("StageLifecycle (embedded Postgres ledger, real nats-server)", function () {
  this.timeout(60000);
  let pg: PostgresServer;
  let nats: NatsServer;
  let dir: TempDir;
  let ledger: StageLedger;
  let realBus: EventBus;
  let bus: EventBus;
  let published: Array<{ subject: Subject; msgId: string; payload: unknown }>;
  let databaseUrl: string;
  const streamName = `T${randomUUID().replace(/-/g, "")}`;

  const spec = (
    overrides: Partial<StageSpec<typeof Subjects.reachabilityScored, { phase: string }>> = {},
  ): StageSpec<typeof Subjects.reachabilityScored, { phase: string }> => ({
    stage: "reachability",
    done: Subjects.reachabilityScored,
    onStarted: "redo",
    progress: (json) => (typeof json["phase"] === "string" ? { phase: json["phase"] } : undefined),
    ...overrides,
  });
  const newJob = (attempt = 1): JobRef => create(JobRefSchema, { jobId: randomUUID(), attempt });
  const scored = (job: JobRef, count: number) => create(ReachabilityScoredSchema, { job, verdictCount: count });

  before(async () => {
    dir = await tempDir("stage-lifecycle");
    pg = await startPostgres();
    databaseUrl = await pg.createDatabase("stage_test");
    ledger = await openStageLedger({ databaseUrl, schema: "reachability", logger: { info: () => undefined } });
    nats = await startNatsServer({ storeDir: join(dir.path, "nats") });
    realBus = await connectEventBus({ servers: nats.url, name: "stage-test", streamName });
    ({ bus, published } = recording(realBus));
  });
  beforeEach(() => published.splice(0));
  after(async () => {
    await realBus?.close();
    await ledger?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  it("claims, works, records the event as protobuf JSON and publishes it once; a redelivery re-publishes the record without working", async () => {
    const lifecycle = new StageLifecycle(spec(), { ledger, bus, logger: noopLogger, instanceId: "reachability-aaa" });
    const job = newJob();
    let runs = 0;
    const work = async () => {
      runs += 1;
      return scored(job, 7);
    };
    assert.equal(await lifecycle.run(job, work), "done");
    assert.equal(await lifecycle.run(job, work), "replayed");
    assert.equal(runs, 1);
    assert.deepEqual(
      published.map((p) => [p.subject, p.msgId]),
      [
        [Subjects.reachabilityScored, eventMsgId(Subjects.reachabilityScored, job.jobId, 1)],
        [Subjects.reachabilityScored, eventMsgId(Subjects.reachabilityScored, job.jobId, 1)],
      ],
    );
    const row = await ledger.get(job.jobId, "reachability", 1);
    assert.equal(row?.state, "done");
    // The outcome is the event's protobuf JSON, not a string map.
    assert.deepEqual(row?.outcome, { instanceId: "reachability-aaa", event: { job: { jobId: job.jobId, attempt: 1 }, verdictCount: 7 } });
    const view = await lifecycle.get(job.jobId, 1);
    assert.equal(view?.event?.verdictCount, 7);
    assert.equal(view?.owner, "reachability-aaa");
  });

  it("records a StageFailure (thrown or classified) and publishes analysis.failed naming the stage; a redelivery re-publishes it", async () => {
    const lifecycle = new StageLifecycle(
      spec({ classify: (error) => (error instanceof RangeError ? new StageFailure("invalid_vulnerability_report", error.message, false) : undefined) }),
      { ledger, bus, logger: noopLogger },
    );
    const job = newJob(2);
    let runs = 0;
    const work = async (): Promise<never> => {
      runs += 1;
      throw new RangeError("matches[3].artifact.purl: not a purl");
    };
    assert.equal(await lifecycle.run(job, work), "failed");
    assert.equal(await lifecycle.run(job, work), "replayed");
    assert.equal(runs, 1);
    assert.equal(published.length, 2);
    for (const p of published) {
      assert.equal(p.subject, Subjects.analysisFailed);
      assert.equal(p.msgId, `${eventMsgId(Subjects.analysisFailed, job.jobId, 2)}:reachability`);
      const failed = p.payload as EventPayload<typeof Subjects.analysisFailed>;
      assert.deepEqual(
        [failed.stage, failed.reason, failed.message, failed.retryable],
        ["reachability", "invalid_vulnerability_report", "matches[3].artifact.purl: not a purl", false],
      );
    }
    const view = await lifecycle.get(job.jobId, 2);
    assert.equal(view?.state, "failed");
    assert.equal(view?.failure?.reason, "invalid_vulnerability_report");
    assert.equal(view?.failure?.retryable, false);
  });

  it("lets an error that is not a stage failure propagate (the event is redelivered), and the next delivery does the work", async () => {
    const lifecycle = new StageLifecycle(spec(), { ledger, bus, logger: noopLogger });
    const job = newJob();
    await assert.rejects(
      lifecycle.run(job, async () => {
        throw new Error("object store unreachable");
      }),
      /object store unreachable/,
    );
    assert.equal((await lifecycle.get(job.jobId, 1))?.state, "started");
    assert.equal(published.length, 0);
    assert.equal(await lifecycle.run(job, async () => scored(job, 1)), "done");
  });

  it("drops the events of a cancelled attempt; a cancel after the end changes nothing", async () => {
    const lifecycle = new StageLifecycle(spec(), { ledger, bus, logger: noopLogger });
    const early = newJob();
    assert.equal(await lifecycle.cancel(early, "user asked"), true);
    let runs = 0;
    assert.equal(
      await lifecycle.run(early, async () => {
        runs += 1;
        return scored(early, 1);
      }),
      "dropped",
    );
    assert.equal(runs, 0);
    assert.equal((await lifecycle.get(early.jobId, 1))?.cancelReason, "user asked");
    const finished = newJob();
    await lifecycle.run(finished, async () => scored(finished, 3));
    assert.equal(await lifecycle.cancel(finished, "too late"), false);
    assert.equal((await lifecycle.get(finished.jobId, 1))?.state, "done");
  });

  it("ends quietly on StageCancelled (the canceller recorded it), and a started row is skipped by a run-once stage", async () => {
    const once = new StageLifecycle(spec({ onStarted: "skip" }), { ledger, bus, logger: noopLogger });
    const job = newJob();
    assert.equal(
      await once.run(job, async (context) => {
        await context.recordProgress({ phase: "running" });
        assert.equal((await once.get(job.jobId, 1))?.progress?.phase, "running");
        await once.cancel(job, "superseded");
        throw new StageCancelled("superseded");
      }),
      "cancelled",
    );
    assert.equal((await once.get(job.jobId, 1))?.state, "cancelled");
    const running = newJob();
    await ledger.claim(running.jobId, "reachability", 1);
    let runs = 0;
    assert.equal(
      await once.run(running, async () => {
        runs += 1;
        return scored(running, 1);
      }),
      "skipped",
    );
    assert.equal(runs, 0);
    assert.equal(published.length, 0);
  });

  it("drops an event without a job id or attempt", async () => {
    const lifecycle = new StageLifecycle(spec(), { ledger, bus, logger: noopLogger });
    assert.equal(await lifecycle.run(create(JobRefSchema, { jobId: "", attempt: 1 }), async () => scored(newJob(), 1)), "dropped");
    assert.equal(await lifecycle.run(undefined, async () => scored(newJob(), 1)), "dropped");
    assert.equal(published.length, 0);
  });

  it("reads rows written before the typed outcome (the event as a JSON string, the failure's fields at the top level)", async () => {
    const legacy = new StageLifecycle<typeof Subjects.profileReady, never>(
      { stage: "profiler", done: Subjects.profileReady, onStarted: "continue", legacyEventKey: "ready" },
      { ledger, bus, logger: noopLogger },
    );
    const job = newJob();
    await ledger.claim(job.jobId, "profiler", 1);
    await ledger.update(job.jobId, "profiler", 1, "done", { profileKey: "k", ready: '{"job":{"jobId":"x","attempt":1},"complete":true}' });
    assert.equal((await legacy.get(job.jobId, 1))?.event?.complete, true);
    const failed = newJob();
    await ledger.claim(failed.jobId, "profiler", 1);
    await ledger.update(failed.jobId, "profiler", 1, "interrupted", { reason: "trace_lost", message: "m", retryable: true });
    const view = await legacy.get(failed.jobId, 1);
    assert.deepEqual([view?.failure?.reason, view?.failure?.retryable], ["trace_lost", true]);
    assert.equal(await legacy.run(failed, async () => create(ProfileReadySchema, {})), "replayed");
    const first = published[0];
    assert.ok(first !== undefined && first.subject === Subjects.analysisFailed);
    assert.equal((first.payload as EventPayload<typeof Subjects.analysisFailed>).reason, "trace_lost");
  });

  it("startMeshService wires a service, refuses to start without the internal secret, and closes what it opened", async () => {
    const config: MeshServiceConfig & { internalAuthToken: string } = {
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: streamName,
      databaseUrl,
      blobStoreUrl: `file://${join(dir.path, "blobs")}`,
      logLevel: "error",
      eventAckWaitMs: 5000,
      internalAuthToken: TEST_INTERNAL_TOKEN,
    };
    const closed: string[] = [];
    const service = await startMeshService({
      name: "reachability",
      config,
      service: ReachabilityService,
      async assemble(parts) {
        const opened = await parts.openLedger();
        assert.equal(await parts.openLedger(), opened);
        parts.onClose(async () => void closed.push("assembled"));
        return {
          handlers: {
            async getVerdicts() {
              throw new ConnectError("none here", Code.NotFound);
            },
          },
          async afterListen() {
            parts.onClose(async () => void closed.push("consumer"));
          },
          extra: { marker: 42 },
        };
      },
    });
    assert.equal(service.marker, 42);
    assert.match(service.instanceId, /^reachability-[0-9a-f]{12}$/);
    const client = createClient(ReachabilityService, createGrpcTransport({ baseUrl: service.url, interceptors: [testInternalAuth()] }));
    await assert.rejects(client.getVerdicts({ jobId: "j" }), (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound);
    const anonymous = createClient(ReachabilityService, createGrpcTransport({ baseUrl: service.url }));
    await assert.rejects(anonymous.getVerdicts({ jobId: "j" }), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated);
    await service.close();
    assert.deepEqual(closed, ["consumer", "assembled"]);
    await assert.rejects(client.getVerdicts({ jobId: "j" }), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);

    let assembled = false;
    await assert.rejects(
      startMeshService({
        name: "vex",
        config: { ...config, internalAuthToken: "" },
        service: ReachabilityService,
        async assemble() {
          assembled = true;
          return {
            handlers: {
              async getVerdicts() {
                throw new ConnectError("none here", Code.NotFound);
              },
            },
            extra: {},
          };
        },
      }),
      (e: unknown) => e instanceof ConfigError && /INTERNAL_AUTH_TOKEN/.test(e.message),
    );
    assert.equal(assembled, false, "the secret is checked before anything is assembled");
  });
});
