/**
 * The producer side of a NATS hop, with the OpenTelemetry SDK as a service runs it
 * (startTelemetry writing spans to OTEL_SPANS_FILE): each publish is a PRODUCER span whose
 * context is the traceparent the event carries, so the consumer's span is its child.
 */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { context, propagation, trace } from "@opentelemetry/api";
import { ProfileReadySchema } from "@vexxy/proto";
import { startTelemetry, type SpanRecord, type Telemetry } from "@vexxy/platform";
import { startNatsServer, type NatsServer } from "@vexxy/testkit";
import { EventPublishError, Subjects, connectEventBus, eventMsgId, type EventBus, type InboundEvent } from "@vexxy/events";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("publish spans (a real nats-server, the SDK writing spans to a file)", function () {
  this.timeout(60000);
  let nats: NatsServer;
  let dir: string;
  let spansFile: string;
  // One mesh stream per nats-server: the file's tests share it.
  const stream = `T${randomBytes(6).toString("hex").toUpperCase()}`;
  let telemetry: Telemetry;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vexxy-publish-spans-"));
    spansFile = join(dir, "spans.jsonl");
    for (const name of ["OTEL_SPANS_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "METRICS_PORT"])
      saved[name] = process.env[name];
    process.env["OTEL_SPANS_FILE"] = spansFile;
    for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "METRICS_PORT"]) delete process.env[name];
    // The API refuses a second registration of a global: clear any a test file that ran earlier
    // left, so the SDK started here is the one registered.
    trace.disable();
    context.disable();
    propagation.disable();
    telemetry = startTelemetry("events-test");
    assert.ok(telemetry.exporting, "this file's telemetry writes the spans file (no other telemetry was running)");
    nats = await startNatsServer();
  });

  after(async () => {
    await nats?.stop();
    await telemetry?.shutdown();
    // The SDK leaves its globals registered after shutdown; later test files start their own.
    trace.disable();
    context.disable();
    propagation.disable();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function spans(): Promise<SpanRecord[]> {
    const text = await readFile(spansFile, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as SpanRecord);
  }

  async function spanNamed(name: string, msgId: string): Promise<SpanRecord> {
    const deadline = Date.now() + 10000;
    for (;;) {
      const found = (await spans()).find((s) => s.name === name && s.attributes["messaging.message.id"] === msgId);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no span ${name} for ${msgId} in ${spansFile}`);
      await sleep(50);
    }
  }

  it("publishes inside a PRODUCER span with the messaging attributes, whose context the event carries and which parents the consumer span", async () => {
    const bus: EventBus = await connectEventBus({ servers: nats.url, name: "publish-span", streamName: stream });
    try {
      const got: InboundEvent[] = [];
      await bus.consume({ durable: "spans", subjects: [Subjects.profileReady] }, async (e) => {
        got.push(e);
      });
      const msgId = eventMsgId(Subjects.profileReady, "job-span", 1);
      // Published under a caller's span, as a stage publishes inside its consumer span.
      const caller = trace.getTracer("test").startSpan("caller");
      await context.with(trace.setSpan(context.active(), caller), () =>
        bus.publish(Subjects.profileReady, create(ProfileReadySchema, { job: { jobId: "job-span", attempt: 1 } }), msgId),
      );
      caller.end();

      const publish = await spanNamed(`${Subjects.profileReady} publish`, msgId);
      const consumer = await spanNamed(`${Subjects.profileReady} process`, msgId);
      assert.equal(publish.kind, "PRODUCER");
      assert.equal(publish.status, "UNSET");
      assert.deepEqual(publish.attributes, {
        "messaging.system": "nats",
        "messaging.destination.name": Subjects.profileReady,
        "messaging.message.id": msgId,
      });
      assert.equal(publish.traceId, caller.spanContext().traceId, "the publish continues the caller's trace");
      assert.equal(publish.parentSpanId, caller.spanContext().spanId, "the publish span is the caller's child");
      assert.equal(consumer.kind, "CONSUMER");
      assert.equal(consumer.traceId, publish.traceId);
      assert.equal(consumer.parentSpanId, publish.spanId, "the consumer span is the publish span's child");
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers["traceparent"], `00-${publish.traceId}-${publish.spanId}-01`, "the event carries the publish span's context");
    } finally {
      await bus.close();
    }
  });

  it("ends a publish that fails with an ERROR span naming the failure", async () => {
    const bus = await connectEventBus({ servers: nats.url, name: "publish-span-closed", streamName: stream });
    await bus.close();
    const msgId = eventMsgId(Subjects.profileReady, "job-closed", 1);
    await assert.rejects(
      bus.publish(Subjects.profileReady, create(ProfileReadySchema, { job: { jobId: "job-closed", attempt: 1 } }), msgId),
      EventPublishError,
    );
    const publish = await spanNamed(`${Subjects.profileReady} publish`, msgId);
    assert.equal(publish.kind, "PRODUCER");
    assert.equal(publish.status, "ERROR");
    assert.match(publish.statusMessage ?? "", /EventPublishError/);
  });
});
