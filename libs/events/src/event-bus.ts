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

/**
 * A delivered event of one of the subjects S, as a union by subject: comparing `event.subject`
 * with a subject narrows `event.payload` to that subject's message (no casts in handlers).
 */
export type InboundEventOf<S extends Subject> = S extends Subject ? InboundEvent<S> : never;

/**
 * Handles one event of the subjects consumed. Resolve to ack it; throw to have it redelivered
 * after the backoff; throw PermanentEventError to have it terminated. Must be idempotent: any
 * event can come again.
 */
export type EventHandler<S extends Subject = Subject> = (event: InboundEventOf<S>) => Promise<void>;

/** What consume() receives and how deliveries are retried. */
export interface ConsumeOptions<S extends Subject = Subject> {
  /**
   * Durable consumer name (Durables.*). On nats-server 2.9 (one filter per consumer) it becomes
   * one JetStream consumer per subject, named `<durable>_<subject with _ for .>`.
   */
  readonly durable: string;
  /** Subjects this consumer receives (at least one). */
  readonly subjects: readonly S[];
  /** Deliveries before an event is given up and terminated (default 5; -1 unlimited). */
  readonly maxDeliver?: number;
  /**
   * Ack wait in ms before an unacknowledged event is redelivered (default 30000). A running
   * handler keeps its event with working() every ackWaitMs/3, so handlers may run far longer.
   */
  readonly ackWaitMs?: number;
  /**
   * Delay in ms before the next delivery after a handler threw, by delivery count: entry n-1
   * after delivery n, the last entry beyond (default 1000, 2000, 5000, 10000). Applied as the
   * nak delay, not as the consumer's server-side BackOff (which would replace the ack wait).
   */
  readonly backoffMs?: readonly number[];
  /**
   * Handlers of ONE subject running at once (default 4). Each subject has its own slots, so an
   * analysis.cancelled is handled while analysis.requested runs fill theirs. A message is pulled
   * only when a slot is free.
   */
  readonly concurrency?: number;
  /**
   * Fan-out: when set (this process's instance id), the consumer is this process's own instead
   * of the service's shared durable, named `<durable>-<instance>_<subject>`: every instance
   * that consumes with its own id receives EVERY event published from the moment its consumer
   * was created (deliver new), e.g. each sandbox sees each analysis.cancelled. JetStream deletes
   * it after INSTANCE_INACTIVE_THRESHOLD_MS without a pull, so the consumers of dead or
   * restarted processes do not pile up. Ack, redelivery and backoff work as for a durable.
   */
  readonly instance?: string;
  /** With instance: ms without a pull after which JetStream deletes the consumer (default 120000). */
  readonly instanceInactiveMs?: number;
}

/** A running consume(). */
export interface Subscription {
  /** Stops pulling; resolves once in-flight handlers finished and their events were settled. */
  stop(): Promise<void>;
}

/** Publishing and consuming the mesh's events (JetStream: connectEventBus). */
export interface EventBus {
  /**
   * Publishes payload on subject with Nats-Msg-Id = msgId (de-duplicated by the stream) and the
   * active trace context; resolves once JetStream acknowledged it (a duplicate within the
   * 2-minute window is acknowledged and dropped). Transient failures are retried a few times.
   * @throws EventPublishError when JetStream did not acknowledge it.
   */
  publish<S extends Subject>(subject: S, payload: EventPayload<S>, msgId: string): Promise<void>;
  /**
   * Pulls events for a durable consumer and calls handler for each, acking when it resolves.
   * A handler that throws gets the event redelivered with backoff; one that throws
   * PermanentEventError has it terminated (logged) instead. Creates or updates the durable
   * consumer(s) first; keeps pulling across nats-server restarts until stop().
   * @throws EventConsumerError when a consumer cannot be created; RangeError for bad options.
   */
  consume<S extends Subject>(options: ConsumeOptions<S>, handler: EventHandler<S>): Promise<Subscription>;
  /**
   * Answers presence probes for instanceId (core NATS, outside the stream) until close(), so
   * other processes can ask instanceAlive(instanceId). (The JetStream bus has it; a test
   * double may leave presence out.)
   */
  announceInstance?(instanceId: string): Promise<void>;
  /**
   * Whether a process that announced instanceId is connected now: true when it answered, false
   * when nobody listens (the process is gone; NATS says so at once).
   * @throws InstancePresenceError when no answer came within timeoutMs (alive but busy, or the
   *   connection is down): the caller cannot tell, and should retry later.
   */
  instanceAlive?(instanceId: string, timeoutMs?: number): Promise<boolean>;
  /** Stops every subscription (waiting for in-flight handlers), then drains the connection. */
  close(): Promise<void>;
}
