import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import {
  AnalysisCancelledSchema,
  AnalysisFailedSchema,
  AnalysisRequestedSchema,
  ProfileReadySchema,
  ReachabilityScoredSchema,
  SandboxCompletedSchema,
  SandboxFailedSchema,
  SandboxStartedSchema,
  VexSignedSchema,
} from "@vexxy/proto";
import { trace, context, type SpanContext } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { LogFields, Logger } from "@vexxy/platform";
import { startNatsServer, type NatsServer } from "@vexxy/testkit";
import {
  DUPLICATE_WINDOW_MS,
  EventStreamError,
  MAX_AGE_MS,
  PermanentEventError,
  Subjects,
  consumerName,
  connectEventBus,
  eventMsgId,
  type EventBus,
  type InboundEvent,
  type Subject,
  type Subscription,
} from "@vexxy/events";

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly fields: LogFields;
}

/** A Logger that keeps its lines, so tests can assert what was logged loudly. */
function capturingLogger(lines: LogLine[], base: LogFields = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: LogFields = {}): void => {
      lines.push({ level, msg, fields: { ...base, ...fields } });
    };
  return {
    level: "debug",
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (f) => capturingLogger(lines, { ...base, ...f }),
  };
}

const jobOf = (e: InboundEvent): string | undefined => (e.payload as { job?: { jobId: string } }).job?.jobId;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("JetStream event bus (each test on its own real nats-server)", function () {
  this.timeout(60000);
  let nats: NatsServer;
  let stream: string;
  let logs: LogLine[];
  let buses: EventBus[];
  let subs: Subscription[];
  let admin: NatsConnection | undefined;

  const bus = async (): Promise<EventBus> => {
    const b = await connectEventBus({ servers: nats.url, name: `test-${buses.length}`, streamName: stream, logger: capturingLogger(logs) });
    buses.push(b);
    return b;
  };
  const consume = async (b: EventBus, ...args: Parameters<EventBus["consume"]>): Promise<Subscription> => {
    const s = await b.consume(...args);
    subs.push(s);
    return s;
  };
  const manager = async (): Promise<JetStreamManager> => {
    admin ??= await connect({ servers: nats.url });
    return await jetstreamManager(admin);
  };

  before(() => {
    // What the OpenTelemetry SDK installs in a service: the active context follows async calls.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(() => {
    context.disable();
  });
  beforeEach(async () => {
    nats = await startNatsServer();
    stream = `T${randomBytes(6).toString("hex").toUpperCase()}`;
    logs = [];
    buses = [];
    subs = [];
    admin = undefined;
  });
  afterEach(async () => {
    for (const s of subs) await s.stop().catch(() => undefined);
    for (const b of buses) await b.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await nats.stop();
  });

  it("delivers a published payload decoded, with its msg id, delivery count 1 and the content headers", async () => {
    const b = await bus();
    const got: InboundEvent[] = [];
    await consume(b, { durable: "rt", subjects: [Subjects.analysisRequested] }, async (e) => {
      got.push(e);
    });
    const msgId = eventMsgId(Subjects.analysisRequested, "job-rt", 1);
    await b.publish(
      Subjects.analysisRequested,
      create(AnalysisRequestedSchema, { job: { jobId: "job-rt", attempt: 1 }, config: { testTimeoutSeconds: 120 } }),
      msgId,
    );
    await until(() => got.length >= 1, "the event");
    const e = got[0]!;
    assert.equal(e.subject, Subjects.analysisRequested);
    assert.equal(jobOf(e), "job-rt");
    assert.equal((e.payload as { config?: { testTimeoutSeconds: number } }).config?.testTimeoutSeconds, 120);
    assert.equal(e.msgId, "vexxy.analysis.requested:job-rt:1");
    assert.equal(e.deliveryCount, 1);
    assert.equal(e.headers["Content-Type"], "application/protobuf");
    assert.equal(e.headers["Vexxy-Schema"], "vexxy.events.v1.AnalysisRequested");
  });

  it("delivers a message published twice with the same Nats-Msg-Id once", async () => {
    const b = await bus();
    const ids: string[] = [];
    await consume(b, { durable: "dup", subjects: [Subjects.sandboxFailed] }, async (e) => {
      ids.push(e.msgId);
    });
    await b.publish(Subjects.sandboxFailed, create(SandboxFailedSchema, { job: { jobId: "dup" } }), "same-id");
    await b.publish(Subjects.sandboxFailed, create(SandboxFailedSchema, { job: { jobId: "dup" } }), "same-id");
    await b.publish(Subjects.sandboxFailed, create(SandboxFailedSchema, { job: { jobId: "other" } }), "other-id");
    await until(() => ids.includes("other-id"), "the later event");
    await sleep(300);
    assert.deepEqual(ids, ["same-id", "other-id"]);
  });

  it("redelivers an event whose handler threw, with delivery count 2 after the backoff, then acks it", async () => {
    const b = await bus();
    const deliveries: { count: number; at: number }[] = [];
    await consume(b, { durable: "retry", subjects: [Subjects.profileReady], backoffMs: [400] }, async (e) => {
      deliveries.push({ count: e.deliveryCount, at: Date.now() });
      if (e.deliveryCount === 1) throw new Error("transient");
    });
    await b.publish(Subjects.profileReady, create(ProfileReadySchema, { job: { jobId: "retry" } }), "retry-1");
    await until(() => deliveries.length >= 2, "the redelivery");
    await sleep(600);
    assert.deepEqual(
      deliveries.map((d) => d.count),
      [1, 2],
    );
    assert.ok(deliveries[1]!.at - deliveries[0]!.at >= 350, `redelivered after ${deliveries[1]!.at - deliveries[0]!.at} ms, before the 400 ms backoff`);
    const info = await (await manager()).consumers.info(stream, consumerName("retry", Subjects.profileReady));
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  });

  it("does not redeliver an event whose handler threw PermanentEventError, and logs it as an error", async () => {
    const b = await bus();
    let calls = 0;
    await consume(b, { durable: "perm", subjects: [Subjects.vexSigned], backoffMs: [50] }, async () => {
      calls++;
      throw new PermanentEventError("never");
    });
    await b.publish(Subjects.vexSigned, create(VexSignedSchema, { job: { jobId: "perm" } }), "perm-1");
    await until(() => calls >= 1, "the handler");
    await sleep(600);
    assert.equal(calls, 1);
    assert.ok(logs.some((l) => l.level === "error" && /terminated/.test(l.msg) && l.fields["msgId"] === "perm-1"));
    const info = await (await manager()).consumers.info(stream, consumerName("perm", Subjects.vexSigned));
    assert.equal(info.num_ack_pending, 0);
  });

  it("terminates an event whose payload does not decode without calling the handler", async () => {
    const b = await bus();
    let calls = 0;
    await consume(b, { durable: "garbage", subjects: [Subjects.vexSigned], backoffMs: [50] }, async () => {
      calls++;
    });
    const nc = await connect({ servers: nats.url });
    try {
      const { jetstream } = await import("@nats-io/jetstream");
      await jetstream(nc).publish(Subjects.vexSigned, new Uint8Array([0xff, 0xff, 0xff]), { msgID: "garbage-1" });
    } finally {
      await nc.close();
    }
    await until(() => logs.some((l) => l.level === "error" && l.fields["msgId"] === "garbage-1"), "the error log");
    await sleep(300);
    assert.equal(calls, 0);
    const info = await (await manager()).consumers.info(stream, consumerName("garbage", Subjects.vexSigned));
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_redelivered, 0);
  });

  it("gives an always-failing event up after maxDeliver deliveries and logs the last one as an error", async () => {
    const b = await bus();
    const counts: number[] = [];
    await consume(b, { durable: "giveup", subjects: [Subjects.sandboxFailed], maxDeliver: 3, backoffMs: [50] }, async (e) => {
      counts.push(e.deliveryCount);
      throw new Error("always");
    });
    await b.publish(Subjects.sandboxFailed, create(SandboxFailedSchema, { job: { jobId: "gu" } }), "giveup-1");
    await until(() => counts.length >= 3, "three deliveries");
    await sleep(500);
    assert.deepEqual(counts, [1, 2, 3]);
    assert.ok(logs.some((l) => l.level === "error" && /GIVEN UP/.test(l.msg) && l.fields["deliveryCount"] === 3));
  });

  it("delivers events published while no consumer ran once the durable consumer comes back, and not the ones acked before", async () => {
    const b1 = await bus();
    const first: string[] = [];
    const s1 = await consume(b1, { durable: "late", subjects: [Subjects.analysisCancelled] }, async (e) => {
      first.push(e.msgId);
    });
    await b1.publish(Subjects.analysisCancelled, create(AnalysisCancelledSchema, { job: { jobId: "early" } }), "early-1");
    await until(() => first.includes("early-1"), "the early event");
    await s1.stop();
    await b1.close();

    const b2 = await bus();
    for (const id of ["late-1", "late-2"]) await b2.publish(Subjects.analysisCancelled, create(AnalysisCancelledSchema, { job: { jobId: id } }), id);
    await sleep(200);
    assert.deepEqual(first, ["early-1"]);
    const second: string[] = [];
    await consume(b2, { durable: "late", subjects: [Subjects.analysisCancelled] }, async (e) => {
      second.push(e.msgId);
    });
    await until(() => second.length >= 2, "the late events");
    await sleep(200);
    assert.deepEqual(second.sort(), ["late-1", "late-2"]);
  });

  it("keeps a handler's event while it runs three times longer than the ack wait (working() heartbeat)", async () => {
    const b = await bus();
    const deliveries: number[] = [];
    let finished = false;
    await consume(b, { durable: "long", subjects: [Subjects.sandboxStarted], ackWaitMs: 1000 }, async (e) => {
      deliveries.push(e.deliveryCount);
      await sleep(3000);
      finished = true;
    });
    await b.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job: { jobId: "long" } }), "long-1");
    await until(() => finished, "the long handler", 10000);
    await sleep(1500);
    assert.deepEqual(deliveries, [1]);
  });

  it("does not let an event waiting for a free handler slot run out its ack wait", async () => {
    const b = await bus();
    const deliveries: string[] = [];
    await consume(b, { durable: "queued", subjects: [Subjects.sandboxStarted], ackWaitMs: 1000, concurrency: 1 }, async (e) => {
      deliveries.push(`${e.msgId}#${e.deliveryCount}`);
      if (e.msgId === "q-1") await sleep(2500);
    });
    await b.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job: { jobId: "q1" } }), "q-1");
    await b.publish(Subjects.sandboxStarted, create(SandboxStartedSchema, { job: { jobId: "q2" } }), "q-2");
    await until(() => deliveries.length >= 2, "both events", 10000);
    await sleep(1500);
    assert.deepEqual(deliveries, ["q-1#1", "q-2#1"]);
  });

  it("runs a second event while the first handler is still running (concurrency)", async () => {
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    await consume(b, { durable: "conc", subjects: [Subjects.sandboxCompleted], concurrency: 2 }, async (e) => {
      started.push(e.msgId);
      if (e.msgId === "c-1") await gate;
    });
    await b.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job: { jobId: "c1" } }), "c-1");
    await until(() => started.includes("c-1"), "the first event");
    await b.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job: { jobId: "c2" } }), "c-2");
    await until(() => started.includes("c-2"), "the second event while the first runs");
    release();
  });

  it("handles a cancel on another subject while every slot of a long-running subject is busy", async () => {
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    await consume(b, { durable: "sandbox", subjects: [Subjects.analysisRequested, Subjects.analysisCancelled], concurrency: 1 }, async (e) => {
      seen.push(e.subject);
      if (e.subject === Subjects.analysisRequested) await gate;
    });
    await b.publish(Subjects.analysisRequested, create(AnalysisRequestedSchema, { job: { jobId: "run" } }), "run-1");
    await until(() => seen.includes(Subjects.analysisRequested), "the run");
    await b.publish(Subjects.analysisCancelled, create(AnalysisCancelledSchema, { job: { jobId: "run" } }), "cancel-1");
    await until(() => seen.includes(Subjects.analysisCancelled), "the cancel while the run is going");
    release();
  });

  it("stop() stops pulling and waits for the handler in flight", async () => {
    const b = await bus();
    let finished = false;
    const seen: string[] = [];
    const sub = await consume(b, { durable: "stopper", subjects: [Subjects.profileReady] }, async (e) => {
      seen.push(e.msgId);
      await sleep(700);
      finished = true;
    });
    await b.publish(Subjects.profileReady, create(ProfileReadySchema, { job: { jobId: "s1" } }), "s-1");
    await until(() => seen.length === 1, "the handler to start");
    await sub.stop();
    assert.equal(finished, true);
    await b.publish(Subjects.profileReady, create(ProfileReadySchema, { job: { jobId: "s2" } }), "s-2");
    await sleep(400);
    assert.deepEqual(seen, ["s-1"]);
    const info = await (await manager()).consumers.info(stream, consumerName("stopper", Subjects.profileReady));
    assert.equal(info.num_pending, 1, "the later event waits in the stream for the durable");
  });

  it("carries the publisher's W3C trace context to the handler's headers and active context", async () => {
    const b = await bus();
    const got: { headers: Record<string, string>; traceId: string | undefined }[] = [];
    await consume(b, { durable: "trace", subjects: [Subjects.reachabilityScored] }, async (e) => {
      got.push({ headers: { ...e.headers }, traceId: trace.getSpanContext(context.active())?.traceId });
    });
    const spanContext: SpanContext = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 };
    await context.with(trace.setSpanContext(context.active(), spanContext), () =>
      b.publish(Subjects.reachabilityScored, create(ReachabilityScoredSchema, { job: { jobId: "tp" } }), "tp-1"),
    );
    await until(() => got.length >= 1, "the event");
    assert.equal(got[0]!.headers["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(got[0]!.traceId, "0af7651916cd43dd8448eb211c80319c");
  });

  it("keeps delivering after nats-server restarts, and a publish made while it is down resolves once it is back", async () => {
    const b = await bus();
    const seen: string[] = [];
    await consume(b, { durable: "restart", subjects: [Subjects.analysisFailed] }, async (e) => {
      seen.push(e.msgId);
    });
    await b.publish(Subjects.analysisFailed, create(AnalysisFailedSchema, { job: { jobId: "r1" } }), "before-restart");
    await until(() => seen.includes("before-restart"), "the event before the restart");
    await nats.restart();
    await b.publish(Subjects.analysisFailed, create(AnalysisFailedSchema, { job: { jobId: "r2" } }), "after-restart");
    await until(() => seen.includes("after-restart"), "the event after the restart", 20000);

    await nats.kill("SIGKILL");
    const during = b.publish(Subjects.analysisFailed, create(AnalysisFailedSchema, { job: { jobId: "r3" } }), "while-down");
    await sleep(500);
    await nats.restart();
    await during;
    await until(() => seen.includes("while-down"), "the event published while the server was down", 20000);
    assert.deepEqual(seen, ["before-restart", "after-restart", "while-down"]);
  });

  it("re-creates the stream and the durable consumer when nats-server comes back with an empty store", async () => {
    const b = await bus();
    const seen: string[] = [];
    await consume(b, { durable: "wiped", subjects: [Subjects.sandboxCompleted] }, async (e) => {
      seen.push(e.msgId);
    });
    await nats.kill("SIGKILL");
    await rm(nats.storeDir, { recursive: true, force: true });
    await nats.restart();
    await b.publish(Subjects.sandboxCompleted, create(SandboxCompletedSchema, { job: { jobId: "w" } }), "after-wipe");
    await until(() => seen.includes("after-wipe"), "the event after the wipe", 20000);
    const info = await (await manager()).streams.info(stream);
    assert.deepEqual(info.config.subjects, ["vexxy.>"]);
  });

  it("ensures the stream idempotently: a second connect keeps its events and a drifted configuration is updated", async () => {
    const b1 = await bus();
    await b1.publish(Subjects.vexSigned, create(VexSignedSchema, { job: { jobId: "keep" } }), "keep-1");
    const jsm = await manager();
    await jsm.streams.update(stream, { max_age: 60 * 60 * 1e9, duplicate_window: 10 * 1e9 });
    await bus();
    const info = await jsm.streams.info(stream);
    assert.equal(info.state.messages, 1);
    assert.deepEqual(info.config.subjects, ["vexxy.>"]);
    assert.equal(info.config.storage, "file");
    assert.equal(info.config.max_age, MAX_AGE_MS * 1e6);
    assert.equal(info.config.duplicate_window, DUPLICATE_WINDOW_MS * 1e6);
  });

  it("fails with EventStreamError naming the stream that already holds vexxy.> on the server", async () => {
    await bus();
    const other = `${stream}X`;
    await assert.rejects(
      connectEventBus({ servers: nats.url, name: "other", streamName: other }),
      (err: unknown) => err instanceof EventStreamError && err.message.includes(other) && err.message.includes(stream),
    );
  });

  it("rejects consume options that cannot work with RangeError naming the option", async () => {
    const b = await bus();
    const subjects: Subject[] = [Subjects.vexSigned];
    await assert.rejects(
      b.consume({ durable: "bad", subjects, concurrency: 0 }, async () => undefined),
      /concurrency/,
    );
    await assert.rejects(
      b.consume({ durable: "bad", subjects: [] }, async () => undefined),
      /subjects/,
    );
  });
});
