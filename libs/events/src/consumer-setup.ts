/**
 * Durable pull consumers, created or updated idempotently.
 *
 * nats-server 2.9 (the Debian package) has one filter subject per consumer (`filter_subjects`
 * came in 2.10), so a service's durable becomes one consumer per subject it receives, named
 * `<durable>_<subject with dots as underscores>`.
 *
 * The consumer has no server-side `backoff`: nats-server replaces `ack_wait` with `backoff[0]`
 * when a backoff is set, which would redeliver a 15-minute sandbox run whose heartbeat runs on
 * the longer ack wait, and it skews delayed naks. The retry schedule after a handler failure is
 * applied instead by the bus as the delay of its nak (see delivery.ts); an ack timeout (a crashed
 * consumer) redelivers after `ack_wait`.
 *
 * A per-instance (fan-out) consumer is a durable too, named `<durable>-<instance>_<subject>`,
 * delivering only what is published after its creation, with `inactive_threshold` so that
 * JetStream deletes it once its process stopped pulling (pulls are renewed every 10 s). An
 * ephemeral or ordered consumer would do the same, but the pull loop, explicit ack and
 * re-creation after a server restart are then the same code for both kinds.
 */
import { nanos } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { Subject } from "./subjects.js";
import { EventConsumerError } from "./errors.js";

/** What one per-subject durable consumer must look like. */
export interface ConsumerSpec {
  readonly stream: string;
  readonly durable: string;
  readonly subject: Subject;
  readonly maxDeliver: number;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
  /** Set for a per-instance (fan-out) consumer: the process's instance id. */
  readonly instance?: string;
  /** With instance: the inactive threshold in ms (default INSTANCE_INACTIVE_THRESHOLD_MS). */
  readonly inactiveMs?: number;
}

/**
 * How long JetStream keeps a per-instance consumer nobody pulls from: well above the pull
 * loop's 10 s renewal and a nats-server restart, short enough that a dead process's consumers
 * are gone within minutes.
 */
export const INSTANCE_INACTIVE_THRESHOLD_MS = 120_000;

/** The JetStream consumer name for one durable and one subject (and one instance, for fan-out). */
export function consumerName(durable: string, subject: Subject, instance?: string): string {
  const owner = instance === undefined ? durable : `${durable}-${instance.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return `${owner}_${subject.replace(/[.>*]/g, "_")}`;
}

/**
 * Creates the durable pull consumer of spec (explicit ack, deliver all, filter = the subject),
 * or updates an existing one's ack wait, max deliver and max ack pending.
 * @throws EventConsumerError when JetStream rejects it (e.g. the stream is missing, or an
 *   existing consumer of that name filters another subject).
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<ConsumerInfo> {
  const name = consumerName(spec.durable, spec.subject, spec.instance);
  const config: ConsumerConfig = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.instance === undefined ? DeliverPolicy.All : DeliverPolicy.New,
    ...(spec.instance === undefined ? {} : { inactive_threshold: nanos(spec.inactiveMs ?? INSTANCE_INACTIVE_THRESHOLD_MS) }),
    replay_policy: ReplayPolicy.Instant,
    filter_subject: spec.subject,
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
  };
  let existing: ConsumerInfo | undefined;
  try {
    existing = await jsm.consumers.info(spec.stream, name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) {
      throw new EventConsumerError(name, `could not be looked up on stream ${spec.stream}`, { cause: err });
    }
  }
  try {
    if (existing === undefined) return await jsm.consumers.add(spec.stream, config);
    if (existing.config.filter_subject !== spec.subject) {
      throw new EventConsumerError(name, `exists with filter ${existing.config.filter_subject ?? "(none)"}, not ${spec.subject}`);
    }
    const c = existing.config;
    if (c.ack_wait === config.ack_wait && c.max_deliver === config.max_deliver && c.max_ack_pending === config.max_ack_pending) {
      return existing;
    }
    return await jsm.consumers.update(spec.stream, name, {
      ack_wait: config.ack_wait!,
      max_deliver: config.max_deliver!,
      max_ack_pending: config.max_ack_pending!,
    });
  } catch (err) {
    if (err instanceof EventConsumerError) throw err;
    // Another instance of the service may have created it at the same moment.
    if (existing === undefined) {
      const raced = await jsm.consumers.info(spec.stream, name).catch(() => undefined);
      if (raced !== undefined && raced.config.filter_subject === spec.subject) return raced;
    }
    throw new EventConsumerError(name, `could not be created or updated on stream ${spec.stream}`, { cause: err });
  }
}
