/**
 * The pull loop of one durable consumer (one subject): it takes a message from JetStream only
 * when a handler slot is free, so no message waits in a client buffer while its ack wait runs
 * out (a prefetching consume() would let events queued behind 15-minute sandbox runs be
 * redelivered, and given up after max_deliver ack timeouts). Up to `concurrency` handlers run at
 * once. Pull failures (a nats-server restart, a lost consumer) are logged and retried forever
 * with a capped backoff, re-ensuring the consumer, so the loop resumes once the server is back.
 */
import { errors as natsErrors, type NatsConnection } from "@nats-io/transport-node";
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "@vexxy/platform";
import type { EventHandler } from "./event-bus.js";
import type { Subject } from "./subjects.js";
import { deliver, type DeliverySettings } from "./delivery.js";
import { Semaphore } from "./semaphore.js";
import type { ConnectionState } from "./connection-state.js";

/** Everything one loop needs. */
export interface PullLoopOptions {
  readonly nc: NatsConnection;
  readonly connection: ConnectionState;
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly consumer: string;
  readonly subject: Subject;
  readonly concurrency: number;
  readonly settings: DeliverySettings;
  readonly handler: EventHandler;
  readonly logger: Logger;
  /** Re-creates the consumer after a pull failure (it may have been lost with the server's store). */
  readonly ensureConsumer: () => Promise<void>;
}

/** A running loop. */
export interface PullLoop {
  /** Stops pulling (an open pull is abandoned) and resolves once in-flight handlers settled. */
  stop(): Promise<void>;
}

// A pull request waits this long for a message before it is renewed; the server sends idle
// heartbeats at half of it, and two missed ones end the pull so a dead server is noticed.
const PULL_EXPIRES_MS = 10_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
const EMPTY_PULL_PAUSE_MS = 200;

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Starts the loop; it runs until stop() or until the connection is closed. */
export function startPullLoop(options: PullLoopOptions): PullLoop {
  const { nc, js, stream, subject, handler, settings } = options;
  const log = options.logger.child({ consumer: options.consumer, subject });
  const slots = new Semaphore(options.concurrency);
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let openPull: ConsumerMessages | undefined;
  let wakeSleeper: (() => void) | undefined;
  let consumer: Consumer | undefined;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wakeSleeper = undefined;
        resolve();
      }
      wakeSleeper = done;
    });

  const pullOne = async (): Promise<JsMsg | undefined> => {
    consumer ??= await js.consumers.get(stream, options.consumer);
    const messages = await consumer.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS });
    openPull = messages;
    try {
      if (!stopping) for await (const m of messages) return m;
      return undefined;
    } finally {
      openPull = undefined;
      messages.stop();
    }
  };

  const run = async (): Promise<void> => {
    let failures = 0;
    while (!stopping) {
      await slots.acquire();
      if (stopping) {
        slots.release();
        break;
      }
      let msg: JsMsg | undefined;
      const pulledAt = Date.now();
      try {
        // Short, so stop() is not held up; the pull itself copes with a later disconnect.
        await options.connection.whenConnected(1000);
        msg = await pullOne();
        failures = 0;
      } catch (err) {
        slots.release();
        if (stopping) break;
        if (nc.isClosed() || err instanceof natsErrors.ClosedConnectionError) {
          log.warn("connection closed; the pull loop ends", { error: errorText(err) });
          break;
        }
        failures += 1;
        const waitMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 10));
        log.warn("pulling failed; retrying", { failures, retryInMs: waitMs, error: errorText(err) });
        await sleep(waitMs);
        if (stopping) break;
        await options.connection.whenConnected(1000);
        if (stopping) break;
        consumer = undefined;
        await options.ensureConsumer().catch((e: unknown) => log.warn("could not re-ensure the consumer; retrying", { error: errorText(e) }));
        continue;
      }
      if (msg === undefined) {
        slots.release();
        // A pull normally waits PULL_EXPIRES_MS for a message; one that ends at once with
        // nothing must not turn this into a busy loop.
        if (Date.now() - pulledAt < EMPTY_PULL_PAUSE_MS) await sleep(EMPTY_PULL_PAUSE_MS);
        continue;
      }
      if (stopping) {
        // Hand it straight back so another instance gets it now rather than after the ack wait.
        try {
          msg.nak();
        } catch {
          // The connection is gone; the ack wait returns it.
        }
        slots.release();
        break;
      }
      const running: Promise<void> = deliver(msg, subject, handler, settings, log).finally(() => {
        slots.release();
        inFlight.delete(running);
      });
      inFlight.add(running);
    }
  };

  const loop = run().catch((err: unknown) => log.error("pull loop crashed", { error: errorText(err) }));

  return {
    async stop() {
      stopping = true;
      wakeSleeper?.();
      await openPull?.close().catch(() => undefined);
      await loop;
      await Promise.all([...inFlight]);
    },
  };
}
