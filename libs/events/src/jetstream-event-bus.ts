/**
 * The EventBus on NATS JetStream.
 *
 * One stream holds every subject (stream-setup.ts). Publishes carry Nats-Msg-Id for the
 * stream's de-duplication, the W3C trace context of their PRODUCER span ("<subject> publish",
 * the parent of the consumer's span), `Content-Type: application/protobuf` and
 * `Vexxy-Schema: <protobuf type name>`, and resolve on the JetStream ack (transient failures are
 * retried). consume() gives each subject a durable pull consumer (consumer-setup.ts) with its own
 * pull loop (pull-loop.ts) that runs up to `concurrency` handlers of that subject at once, so an
 * analysis.cancelled is handled while analysis.requested runs are still going. Deliveries are
 * settled in delivery.ts (ack, nak with backoff, term). The connection reconnects forever, so
 * consumers and publishers carry on after a nats-server restart. With replicas, consume() can
 * also give a process its own fan-out consumer (ConsumeOptions.instance), and presence probes
 * on core NATS tell whether a process named by its instance id is still there.
 */
import {
  connect,
  errors as natsErrors,
  headers as natsHeaders,
  type MsgHdrs,
  type NatsConnection,
  type Subscription as NatsSubscription,
} from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { toBinary } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { injectTraceHeaders, noopLogger, observeQueueDepth, type Logger } from "@vexxy/platform";
import type { ConsumeOptions, EventBus, EventHandler, Subscription } from "./event-bus.js";
import { EVENT_SCHEMAS, type EventPayload } from "./schemas.js";
import { STREAM_NAME, type Subject } from "./subjects.js";
import { EventPublishError, InstancePresenceError } from "./errors.js";
import { ensureStream } from "./stream-setup.js";
import { INSTANCE_INACTIVE_THRESHOLD_MS, consumerName, ensureConsumer, type ConsumerSpec } from "./consumer-setup.js";
import { startPullLoop, type PullLoop } from "./pull-loop.js";
import { watchConnection, type ConnectionState } from "./connection-state.js";

/** How long close() lets drain() flush before it closes the connection outright. */
const DRAIN_TIMEOUT_MS = 5000;
/** How to reach NATS and which stream to use. */
export interface EventBusOptions {
  /** nats:// URL(s). */
  readonly servers: string | readonly string[];
  /** Connection name (the service). */
  readonly name: string;
  /** The stream (default STREAM_NAME, "VEXXY"); see stream-setup.ts for one stream per server. */
  readonly streamName?: string;
  readonly logger?: Logger;
}

/** Defaults of ConsumeOptions. */
export const CONSUME_DEFAULTS = Object.freeze({
  maxDeliver: 5,
  ackWaitMs: 30_000,
  backoffMs: Object.freeze([1000, 2000, 5000, 10000]) as readonly number[],
  concurrency: 4,
  maxAckPending: 256,
});

const PUBLISH_TIMEOUT_MS = 5_000;
// A probe answered by a live process's event loop; a busy one may take a while.
const PRESENCE_TIMEOUT_MS = 5_000;

/**
 * The core-NATS subject a process answers presence probes on. Outside `vexxy.>`, so the stream
 * does not capture (and answer) the probes itself.
 */
export function presenceSubject(instanceId: string): string {
  return `_vexxy_presence.${instanceId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}
// Delays between publish attempts: about 4 s of retrying covers a nats-server restart.
const PUBLISH_RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000] as const;

// Looked up at each use, for the reason delivery.ts gives: a tracer taken before startTelemetry
// registered the SDK would stay a no-op.
function tracer() {
  return trace.getTracer("@vexxy/events");
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function isFinalPublishError(err: unknown): boolean {
  return err instanceof natsErrors.ClosedConnectionError || err instanceof natsErrors.DrainingConnectionError;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`ConsumeOptions.${name} must be a positive integer, got ${value}`);
  return value;
}

class JetStreamEventBus implements EventBus {
  private readonly subscriptions = new Set<Subscription>();
  private readonly presence: NatsSubscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly connection: ConnectionState,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly logger: Logger,
  ) {}

  async publish<S extends Subject>(subject: S, payload: EventPayload<S>, msgId: string): Promise<void> {
    // The map's type pairs each subject with its schema; TypeScript cannot follow S through it.
    const schema = EVENT_SCHEMAS[subject] as GenMessage<EventPayload<S>>;
    const data = toBinary(schema, payload);
    // The producer span of the hop: its context is the traceparent the event carries, so the
    // consumer's span (delivery.ts) is its child.
    await tracer().startActiveSpan(
      `${subject} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { "messaging.system": "nats", "messaging.destination.name": subject, "messaging.message.id": msgId },
      },
      async (span) => {
        try {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(injectTraceHeaders())) h.set(k, v);
          h.set("Content-Type", "application/protobuf");
          h.set("Vexxy-Schema", schema.typeName);
          await this.publishWithRetries(subject, data, msgId, h);
        } catch (err) {
          span.recordException(err instanceof Error ? err : new Error(String(err)));
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(err) });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Publishes until JetStream acknowledges, retrying transient failures. @throws EventPublishError */
  private async publishWithRetries(subject: Subject, data: Uint8Array, msgId: string, h: MsgHdrs): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt <= PUBLISH_RETRY_DELAYS_MS.length; attempt++) {
      try {
        await this.connection.whenConnected(PUBLISH_TIMEOUT_MS);
        const ack = await this.js.publish(subject, data, { msgID: msgId, headers: h, timeout: PUBLISH_TIMEOUT_MS });
        if (ack.duplicate) this.logger.debug("publish de-duplicated by the stream", { subject, msgId, seq: ack.seq });
        return;
      } catch (err) {
        lastError = err;
        const delay = PUBLISH_RETRY_DELAYS_MS[attempt];
        if (isFinalPublishError(err) || delay === undefined) break;
        this.logger.warn("publish not acknowledged; retrying", { subject, msgId, attempt: attempt + 1, retryInMs: delay, error: errorText(err) });
        await new Promise((r) => setTimeout(r, delay));
        // No responders: JetStream is still starting, or the stream is gone (a wiped store).
        // (@nats-io/jetstream does not export the JetStreamNotEnabled class it throws then.)
        if (err instanceof Error && err.name === "JetStreamNotEnabled") await this.ensureStreamQuietly();
      }
    }
    throw new EventPublishError(subject, msgId, { cause: lastError });
  }

  async consume<S extends Subject>(options: ConsumeOptions<S>, handler: EventHandler<S>): Promise<Subscription> {
    // Each pull loop pulls one subject of S and decodes it with that subject's schema, so the
    // handler is only ever given an InboundEventOf<S>: the one widening of the handler's type.
    const anySubjectHandler = handler as EventHandler;
    const maxDeliver = options.maxDeliver ?? CONSUME_DEFAULTS.maxDeliver;
    if (maxDeliver !== -1) positiveInt("maxDeliver", maxDeliver);
    const ackWaitMs = positiveInt("ackWaitMs", options.ackWaitMs ?? CONSUME_DEFAULTS.ackWaitMs);
    const concurrency = positiveInt("concurrency", options.concurrency ?? CONSUME_DEFAULTS.concurrency);
    const backoffMs = [...(options.backoffMs ?? CONSUME_DEFAULTS.backoffMs)];
    if (backoffMs.some((d) => !Number.isFinite(d) || d < 0))
      throw new RangeError(`ConsumeOptions.backoffMs must be non-negative numbers, got ${backoffMs.join(",")}`);
    if (options.subjects.length === 0) throw new RangeError("ConsumeOptions.subjects must name at least one subject");
    if (options.instance !== undefined && options.instance.trim() === "") throw new RangeError("ConsumeOptions.instance must not be empty");
    const settings = { ackWaitMs, maxDeliver, backoffMs };

    const specs: ConsumerSpec[] = [...new Set(options.subjects)].map((subject) => ({
      stream: this.stream,
      durable: options.durable,
      subject,
      maxDeliver,
      ackWaitMs,
      maxAckPending: Math.max(CONSUME_DEFAULTS.maxAckPending, concurrency),
      ...(options.instance !== undefined
        ? { instance: options.instance, inactiveMs: positiveInt("instanceInactiveMs", options.instanceInactiveMs ?? INSTANCE_INACTIVE_THRESHOLD_MS) }
        : {}),
    }));
    for (const spec of specs) await ensureConsumer(this.jsm, spec);

    const loops: PullLoop[] = specs.map((spec) =>
      startPullLoop({
        nc: this.nc,
        connection: this.connection,
        js: this.js,
        stream: this.stream,
        consumer: consumerName(spec.durable, spec.subject, spec.instance),
        subject: spec.subject,
        concurrency,
        settings,
        handler: anySubjectHandler,
        logger: this.logger,
        ensureConsumer: async () => {
          await this.ensureStreamQuietly();
          await ensureConsumer(this.jsm, spec);
        },
      }),
    );
    // Read from JetStream at each Prometheus scrape (vexxy_queue_depth), not polled.
    const stopObserving = observeQueueDepth(() =>
      Promise.all(
        specs.map(async (spec) => {
          const info = await this.jsm.consumers.info(this.stream, consumerName(spec.durable, spec.subject, spec.instance));
          return { consumer: info.name, subject: spec.subject, pending: info.num_pending, ackPending: info.num_ack_pending };
        }),
      ),
    );
    let stopped: Promise<void> | undefined;
    const subscription: Subscription = {
      stop: () => {
        stopped ??= (async () => {
          stopObserving();
          await Promise.all(loops.map((l) => l.stop()));
          this.subscriptions.delete(subscription);
        })();
        return stopped;
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Re-creates the stream if it is missing; failures are logged (the caller retries anyway). */
  private async ensureStreamQuietly(): Promise<void> {
    try {
      await ensureStream(this.jsm, this.stream, this.logger);
    } catch (err) {
      this.logger.warn("could not ensure the stream; retrying later", { stream: this.stream, error: errorText(err) });
    }
  }

  async announceInstance(instanceId: string): Promise<void> {
    const sub = this.nc.subscribe(presenceSubject(instanceId), {
      callback: (_err, msg) => {
        msg.respond();
      },
    });
    this.presence.push(sub);
    // The subscription is registered with the server before a probe can rely on it.
    await this.nc.flush();
  }

  async instanceAlive(instanceId: string, timeoutMs = PRESENCE_TIMEOUT_MS): Promise<boolean> {
    try {
      await this.nc.request(presenceSubject(instanceId), undefined, { timeout: timeoutMs });
      return true;
    } catch (err) {
      if (err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders())) return false;
      throw new InstancePresenceError(instanceId, `no presence answer within ${timeoutMs} ms`, { cause: err });
    }
  }

  async close(): Promise<void> {
    for (const sub of this.presence.splice(0)) sub.unsubscribe();
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (this.nc.isClosed()) return;
    // drain() needs a live server: while the server is gone it fails (or never finishes) and the
    // connection would keep reconnecting forever, timers and all. Close it outright then.
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.nc.drain().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!drained || !this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }
}

/**
 * Connects to NATS (reconnecting forever after a server restart), ensures the stream exists with
 * the mesh's configuration (created or updated, see ensureStream) and returns the bus.
 * @throws when NATS cannot be reached at all, JetStream is not enabled, or EventStreamError when
 *   the stream cannot be ensured (e.g. another stream on the server holds `vexxy.>`).
 */
export async function connectEventBus(options: EventBusOptions): Promise<EventBus> {
  const logger = (options.logger ?? noopLogger).child({ component: "event-bus" });
  const stream = options.streamName ?? STREAM_NAME;
  const nc = await connect({
    servers: typeof options.servers === "string" ? options.servers : [...options.servers],
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const connection = watchConnection(nc, logger);
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, stream, logger);
    return new JetStreamEventBus(nc, connection, jetstream(nc), jsm, stream, logger);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
