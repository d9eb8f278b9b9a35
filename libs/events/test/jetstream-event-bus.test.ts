import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import * as proto from "@vexxy/proto";
import { AnalysisRequestedSchema } from "@vexxy/proto";
import { trace, context, type SpanContext } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { startNatsServer, type NatsServer } from "@vexxy/testkit";
import { connectEventBus, PermanentEventError, Subjects, eventMsgId, type EventBus, type InboundEvent } from "@vexxy/events";

function requested(jobId: string, attempt = 1) {
  return create(AnalysisRequestedSchema, { job: { jobId, attempt }, config: { testTimeoutSeconds: 120 } });
}

async function until(pred: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("JetStream event bus (real nats-server)", function () {
  this.timeout(60000);
  let nats: NatsServer;
  const buses: EventBus[] = [];
  let n = 0;
  const bus = async (): Promise<EventBus> => {
    const b = await connectEventBus({ servers: nats.url, name: `test-${n++}` });
    buses.push(b);
    return b;
  };
  const durable = () => `d${Date.now()}${n++}`;

  before(async () => {
    // What the OpenTelemetry SDK installs in a service: the active context follows async calls.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    nats = await startNatsServer();
  });
  after(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    await nats?.stop();
    context.disable();
  });

  it("delivers a published payload decoded, with its msg id and delivery count 1", async () => {
    const b = await bus();
    const got: InboundEvent[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.analysisRequested] }, async (e) => {
      got.push(e);
    });
    await b.publish(Subjects.analysisRequested, requested("job-rt"), eventMsgId(Subjects.analysisRequested, "job-rt", 1));
    await until(() => got.some((e) => (e.payload as { job?: { jobId: string } }).job?.jobId === "job-rt"));
    const e = got.find((x) => (x.payload as { job?: { jobId: string } }).job?.jobId === "job-rt")!;
    assert.equal(e.subject, Subjects.analysisRequested);
    assert.equal(e.msgId, "vexxy.analysis.requested:job-rt:1");
    assert.equal(e.deliveryCount, 1);
    assert.equal((e.payload as { config?: { testTimeoutSeconds: number } }).config?.testTimeoutSeconds, 120);
    await sub.stop();
  });

  it("delivers a message published twice with the same Nats-Msg-Id once", async () => {
    const b = await bus();
    const ids: string[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.sandboxFailed] }, async (e) => {
      ids.push(e.msgId);
    });
    await b.publish(Subjects.sandboxFailed, create((await import("@vexxy/proto")).SandboxFailedSchema, { job: { jobId: "dup" } }), "same-id");
    await b.publish(Subjects.sandboxFailed, create((await import("@vexxy/proto")).SandboxFailedSchema, { job: { jobId: "dup" } }), "same-id");
    await until(() => ids.length >= 1);
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(ids, ["same-id"]);
    await sub.stop();
  });

  it("redelivers an event whose handler threw, with delivery count 2, then acks it", async () => {
    const b = await bus();
    const counts: number[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.profileReady], backoffMs: [100] }, async (e) => {
      counts.push(e.deliveryCount);
      if (e.deliveryCount === 1) throw new Error("transient");
    });
    await b.publish(Subjects.profileReady, create((await import("@vexxy/proto")).ProfileReadySchema, { job: { jobId: "retry" } }), "retry-1");
    await until(() => counts.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(counts, [1, 2]);
    await sub.stop();
  });

  it("does not redeliver an event whose handler threw PermanentEventError", async () => {
    const b = await bus();
    let calls = 0;
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.vexSigned], backoffMs: [100] }, async () => {
      calls++;
      throw new PermanentEventError("never");
    });
    await b.publish(Subjects.vexSigned, create((await import("@vexxy/proto")).VexSignedSchema, { job: { jobId: "perm" } }), "perm-1");
    await until(() => calls >= 1);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(calls, 1);
    await sub.stop();
  });

  it("delivers events published while the durable consumer was down once it comes back", async () => {
    const d = durable();
    const b1 = await bus();
    const seen: string[] = [];
    const s1 = await b1.consume({ durable: d, subjects: [Subjects.analysisCancelled] }, async (e) => {
      seen.push(e.msgId);
    });
    await s1.stop();
    const b2 = await bus();
    await b2.publish(Subjects.analysisCancelled, create((await import("@vexxy/proto")).AnalysisCancelledSchema, { job: { jobId: "late" } }), "late-1");
    const s2 = await b2.consume({ durable: d, subjects: [Subjects.analysisCancelled] }, async (e) => {
      seen.push(e.msgId);
    });
    await until(() => seen.includes("late-1"));
    await s2.stop();
  });

  it("keeps a handler's event while it runs longer than the ack wait (no redelivery mid-run)", async () => {
    const b = await bus();
    const deliveries: number[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.sandboxStarted], ackWaitMs: 1000 }, async (e) => {
      deliveries.push(e.deliveryCount);
      await new Promise((r) => setTimeout(r, 3500));
    });
    await b.publish(Subjects.sandboxStarted, create((await import("@vexxy/proto")).SandboxStartedSchema, { job: { jobId: "long" } }), "long-1");
    await until(() => deliveries.length >= 1);
    await new Promise((r) => setTimeout(r, 4500));
    assert.deepEqual(deliveries, [1]);
    await sub.stop();
  });

  it("runs a second event while the first handler is still running (concurrency)", async () => {
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.sandboxCompleted], concurrency: 2 }, async (e) => {
      started.push(e.msgId);
      if (e.msgId === "c-1") await gate;
    });
    const SC = (await import("@vexxy/proto")).SandboxCompletedSchema;
    await b.publish(Subjects.sandboxCompleted, create(SC, { job: { jobId: "c1" } }), "c-1");
    await b.publish(Subjects.sandboxCompleted, create(SC, { job: { jobId: "c2" } }), "c-2");
    await until(() => started.includes("c-2"));
    release();
    await sub.stop();
  });

  it("carries the publisher's W3C trace context to the handler's headers", async () => {
    const b = await bus();
    const got: Record<string, string>[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.reachabilityScored] }, async (e) => {
      got.push({ ...e.headers });
    });
    const spanContext: SpanContext = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 };
    await context.with(trace.setSpanContext(context.active(), spanContext), () =>
      b.publish(Subjects.reachabilityScored, create(proto.ReachabilityScoredSchema, { job: { jobId: "tp" } }), "tp-1"),
    );
    await until(() => got.length >= 1);
    assert.equal(got[0]?.["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    await sub.stop();
  });

  it("keeps delivering after nats-server restarts", async () => {
    const b = await bus();
    const seen: string[] = [];
    const sub = await b.consume({ durable: durable(), subjects: [Subjects.analysisFailed] }, async (e) => {
      seen.push(e.msgId);
    });
    const AF = (await import("@vexxy/proto")).AnalysisFailedSchema;
    await b.publish(Subjects.analysisFailed, create(AF, { job: { jobId: "r1" } }), "before-restart");
    await until(() => seen.includes("before-restart"));
    await nats.restart();
    await b.publish(Subjects.analysisFailed, create(AF, { job: { jobId: "r2" } }), "after-restart");
    await until(() => seen.includes("after-restart"), 30000);
    await sub.stop();
  });
});
