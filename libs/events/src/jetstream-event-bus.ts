/**
 * The EventBus on NATS JetStream. One stream holds every subject; each service has a durable
 * pull consumer per subject it receives (nats-server 2.9 allows one filter subject per
 * consumer), with explicit ack. Publishes carry Nats-Msg-Id for de-duplication and the W3C
 * trace context. A handler that throws gets its event again after a backoff (nak with delay);
 * a PermanentEventError terminates it. Long handlers keep their event with working() so a
 * 15-minute sandbox run is not redelivered mid-run.
 */
import { connect, headers as natsHeaders, nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { injectTraceHeaders, noopLogger, withExtractedTraceContext, type Logger } from "@vexxy/platform";
import type { ConsumeOptions, EventBus, EventHandler, InboundEvent, Subscription } from "./event-bus.js";
import { EVENT_SCHEMAS, type EventPayload } from "./schemas.js";
import { STREAM_NAME, STREAM_SUBJECTS, type Subject } from "./subjects.js";
import { EventPublishError, PermanentEventError } from "./errors.js";
import { Semaphore } from "./semaphore.js";

export interface EventBusOptions {
  /** nats:// URL(s). */
  readonly servers: string | readonly string[];
  /** Connection name (the service). */
  readonly name: string;
  readonly streamName?: string;
  readonly logger?: Logger;
}

const DEFAULT_BACKOFF_MS = [1000, 2000, 5000, 10000] as const;
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
const MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
const PUBLISH_ATTEMPTS = 5;

function consumerName(durable: string, subject: string): string {
  return `${durable}_${subject.replace(/[.>*]/g, "_")}`;
}

function headerRecord(msg: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (msg.headers !== undefined) for (const [k, v] of msg.headers) if (v[0] !== undefined) out[k] = v[0];
  return out;
}

class JetStreamEventBus implements EventBus {
  private readonly subscriptions = new Set<Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly logger: Logger,
  ) {}

  async publish<S extends Subject>(subject: S, payload: EventPayload<S>, msgId: string): Promise<void> {
    const schema = EVENT_SCHEMAS[subject];
    const data = toBinary(schema, payload);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(injectTraceHeaders())) h.set(k, v);
    h.set("Content-Type", "application/protobuf");
    h.set("Vexxy-Schema", schema.typeName);
    let lastError: unknown;
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
      try {
        const ack = await this.js.publish(subject, data, { msgID: msgId, headers: h, timeout: 5000 });
        if (ack.duplicate) this.logger.debug("publish de-duplicated", { subject, msgId });
        return;
      } catch (err) {
        lastError = err;
        this.logger.warn("publish failed, retrying", { subject, msgId, attempt, error: String(err) });
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    throw new EventPublishError(subject, msgId, { cause: lastError });
  }

  async consume(options: ConsumeOptions, handler: EventHandler): Promise<Subscription> {
    const ackWaitMs = options.ackWaitMs ?? 30000;
    const maxDeliver = options.maxDeliver ?? 5;
    const backoff = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    const semaphore = new Semaphore(options.concurrency ?? 4);
    const inFlight = new Set<Promise<void>>();
    const loops: { messages: ConsumerMessages; done: Promise<void> }[] = [];
    let stopping = false;

    const handle = async (msg: JsMsg, subject: Subject): Promise<void> => {
      const deliveryCount = msg.info.deliveryCount;
      const heartbeat = setInterval(() => msg.working(), Math.max(250, Math.floor(ackWaitMs / 3)));
      try {
        let payload: EventPayload<Subject>;
        try {
          payload = fromBinary(EVENT_SCHEMAS[subject], msg.data) as EventPayload<Subject>;
        } catch (cause) {
          throw new PermanentEventError(`undecodable ${subject} payload`, { cause });
        }
        const headers = headerRecord(msg);
        const event: InboundEvent = { subject, payload, msgId: headers["Nats-Msg-Id"] ?? "", deliveryCount, headers };
        await withExtractedTraceContext(headers, () => handler(event));
        msg.ack();
      } catch (err) {
        if (err instanceof PermanentEventError) {
          this.logger.error("event terminated: it can never be handled", { subject, error: err.message });
          msg.term(err.message);
        } else if (deliveryCount >= maxDeliver) {
          this.logger.error("event failed on its last delivery and is given up", { subject, deliveryCount, error: String(err) });
          msg.term(`failed ${deliveryCount} times: ${String(err)}`);
        } else {
          const delay = backoff[Math.min(deliveryCount - 1, backoff.length - 1)] ?? 1000;
          this.logger.warn("handler failed; event will be redelivered", { subject, deliveryCount, delayMs: delay, error: String(err) });
          msg.nak(delay);
        }
      } finally {
        clearInterval(heartbeat);
      }
    };

    for (const subject of options.subjects) {
      const name = consumerName(options.durable, subject);
      const config = {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: subject,
        max_deliver: maxDeliver,
        ack_wait: nanos(ackWaitMs),
        max_ack_pending: 256,
      };
      const existing = await this.jsm.consumers.info(this.stream, name).catch(() => undefined);
      if (existing === undefined) await this.jsm.consumers.add(this.stream, config);
      else await this.jsm.consumers.update(this.stream, name, { ack_wait: config.ack_wait, max_deliver: maxDeliver, max_ack_pending: 256 });
      const consumer = await this.js.consumers.get(this.stream, name);
      const messages = await consumer.consume({ max_messages: 8 });
      const done = (async () => {
        for await (const msg of messages) {
          if (stopping) {
            msg.nak();
            continue;
          }
          await semaphore.acquire();
          const p = handle(msg, subject).finally(() => {
            semaphore.release();
            inFlight.delete(p);
          });
          inFlight.add(p);
        }
      })().catch((err: unknown) => this.logger.error("consume loop ended", { consumer: name, error: String(err) }));
      loops.push({ messages, done });
    }

    const subscription: Subscription = {
      stop: async () => {
        stopping = true;
        for (const loop of loops) await loop.messages.close().catch(() => undefined);
        await Promise.all(loops.map((l) => l.done));
        await Promise.all([...inFlight]);
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    for (const s of [...this.subscriptions]) await s.stop();
    await this.nc.drain().catch(() => undefined);
  }
}

/**
 * Connects to NATS, ensures the stream exists (created, or updated to this configuration) and
 * returns the bus. Reconnects forever after a server restart.
 * @throws when NATS cannot be reached at all or JetStream is not enabled.
 */
export async function connectEventBus(options: EventBusOptions): Promise<EventBus> {
  const logger = options.logger ?? noopLogger;
  const stream = options.streamName ?? STREAM_NAME;
  const nc = await connect({
    servers: typeof options.servers === "string" ? options.servers : [...options.servers],
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  const jsm = await jetstreamManager(nc);
  const config = {
    name: stream,
    subjects: [...STREAM_SUBJECTS],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(MAX_AGE_MS),
  };
  const existing = await jsm.streams.info(stream).catch(() => undefined);
  if (existing === undefined) {
    try {
      await jsm.streams.add(config);
    } catch (err) {
      // Another service created it at the same moment.
      if ((await jsm.streams.info(stream).catch(() => undefined)) === undefined) throw err;
    }
  }
  return new JetStreamEventBus(nc, jetstream(nc), jsm, stream, logger);
}
