/**
 * The event seam: JetStream in every deployment, behind this interface so handlers can be
 * tested and so main.ts is the only place that knows NATS.
 */
import type { Subject } from "./subjects.js";
import type { EventPayload } from "./schemas.js";

/** One delivered event, decoded. */
export interface InboundEvent<S extends Subject = Subject> {
  readonly subject: S;
  readonly payload: EventPayload<S>;
  /** The Nats-Msg-Id the publisher set. */
  readonly msgId: string;
  /** 1 on first delivery, more on redelivery. */
  readonly deliveryCount: number;
  /** Headers, including W3C traceparent when present. */
  readonly headers: Readonly<Record<string, string>>;
}

export type EventHandler = (event: InboundEvent) => Promise<void>;

export interface ConsumeOptions {
  /** Durable consumer name (Durables.*). */
  readonly durable: string;
  /** Subjects this consumer receives. */
  readonly subjects: readonly Subject[];
  /** Deliveries before an event is given up (default 5). */
  readonly maxDeliver?: number;
  /** Ack wait in ms before redelivery (default 30000). */
  readonly ackWaitMs?: number;
  /** Backoff between redeliveries in ms (default 1000, 2000, 5000, 10000). */
  readonly backoffMs?: readonly number[];
  /** Handlers running at once (default 4), so a cancel is handled during a long run. */
  readonly concurrency?: number;
}

export interface Subscription {
  /** Stops pulling; in-flight handlers finish first. */
  stop(): Promise<void>;
}

export interface EventBus {
  /**
   * Publishes payload on subject with Nats-Msg-Id = msgId (de-duplicated by the stream) and the
   * active trace context; resolves once JetStream acknowledged it.
   */
  publish<S extends Subject>(subject: S, payload: EventPayload<S>, msgId: string): Promise<void>;
  /**
   * Pulls events for a durable consumer and calls handler for each, acking when it resolves.
   * A handler that throws gets the event redelivered with backoff; one that throws
   * PermanentEventError has it terminated (logged) instead.
   */
  consume(options: ConsumeOptions, handler: EventHandler): Promise<Subscription>;
  /** Closes the connection after draining. */
  close(): Promise<void>;
}
