/**
 * One delivery of one event: decode it by subject, run the handler inside the publisher's trace
 * context while telling JetStream it is still being worked on, then settle it:
 * - the handler resolved: ack;
 * - it threw PermanentEventError (or the payload does not decode): term, logged as an error;
 * - it threw anything else: nak with the delay of the backoff schedule for this delivery count,
 *   or, on the last allowed delivery, term with an error log saying the event is given up.
 * term() carries no reason: nats-server 2.9 only recognises a bare "+TERM" and ignores
 * "+TERM <reason>", which would leave the event pending until its ack wait redelivers it. The
 * reason goes to the log instead.
 */
import type { JsMsg } from "@nats-io/jetstream";
import { fromBinary } from "@bufbuild/protobuf";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { recordEventConsumed, withExtractedTraceContext, type Logger } from "@vexxy/platform";
import type { EventHandler, InboundEventOf } from "./event-bus.js";
import { EVENT_SCHEMAS, type EventPayload } from "./schemas.js";
import type { Subject } from "./subjects.js";
import { PermanentEventError } from "./errors.js";

/** How deliveries of one consumer are settled. */
export interface DeliverySettings {
  readonly ackWaitMs: number;
  /** Deliveries allowed; -1 for unlimited. */
  readonly maxDeliver: number;
  readonly backoffMs: readonly number[];
}

// Looked up at each use, not once at import: the ESM build of @opentelemetry/api that this
// module loads and the CommonJS one the SDK registers through are two instances, and a tracer
// taken from the first before startTelemetry stays a no-op (the SDK's global is shared, the
// proxy that would later delegate to it is not).
function tracer() {
  return trace.getTracer("@vexxy/events");
}

/** The nak delay before delivery `deliveryCount + 1`: the schedule's entry, its last one beyond. */
export function backoffDelay(backoffMs: readonly number[], deliveryCount: number): number {
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1)]!;
}

/** The heartbeat period: a third of the ack wait, so two beats may be lost before redelivery. */
export function heartbeatPeriod(ackWaitMs: number): number {
  return Math.max(100, Math.floor(ackWaitMs / 3));
}

function headerRecord(msg: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (msg.headers !== undefined) {
    for (const [k, v] of msg.headers) if (v[0] !== undefined) out[k] = v[0];
  }
  return out;
}

function jobIdOf(payload: unknown): string | undefined {
  const job = (payload as { job?: { jobId?: unknown } }).job;
  return typeof job?.jobId === "string" && job.jobId !== "" ? job.jobId : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Handles one message to completion and settles it; never throws (a failure to ack on a lost
 * connection is logged: JetStream redelivers after the ack wait and the handler is idempotent).
 */
export async function deliver(msg: JsMsg, subject: Subject, handler: EventHandler, settings: DeliverySettings, logger: Logger): Promise<void> {
  const deliveryCount = msg.info.deliveryCount;
  const headers = headerRecord(msg);
  const msgId = headers["Nats-Msg-Id"] ?? "";
  const log = logger.child({ subject, msgId, deliveryCount, streamSequence: msg.info.streamSequence });
  const settle = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      log.warn(`could not ${what} the event; JetStream redelivers it after the ack wait`, { error: errorText(err) });
    }
  };
  const lastDelivery = settings.maxDeliver > 0 && deliveryCount >= settings.maxDeliver;
  if (lastDelivery && settings.maxDeliver > 1) {
    log.warn("last delivery of this event: if the handler fails now it is given up", { maxDeliver: settings.maxDeliver });
  }
  const started = performance.now();
  const elapsedSeconds = () => (performance.now() - started) / 1000;
  const heartbeat = setInterval(() => settle("extend (working) the ack wait of", () => msg.working()), heartbeatPeriod(settings.ackWaitMs));
  try {
    let payload: EventPayload<Subject>;
    try {
      payload = fromBinary(EVENT_SCHEMAS[subject], msg.data) as EventPayload<Subject>;
    } catch (cause) {
      throw new PermanentEventError(`the ${subject} payload does not decode as ${EVENT_SCHEMAS[subject].typeName}`, { cause });
    }
    // payload was decoded with subject's own schema: the pair is one member of the union.
    const event = { subject, payload, msgId, deliveryCount, headers } as InboundEventOf<Subject>;
    await withExtractedTraceContext(headers, () =>
      tracer().startActiveSpan(
        `${subject} process`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            "messaging.system": "nats",
            "messaging.destination.name": subject,
            "messaging.message.id": msgId,
            // Every stage's event names its job: the attribute finds a job's spans in any backend.
            ...(jobIdOf(payload) === undefined ? {} : { "vexxy.job_id": jobIdOf(payload) }),
          },
        },
        async (span) => {
          try {
            await handler(event);
          } catch (err) {
            span.recordException(err instanceof Error ? err : new Error(String(err)));
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(err) });
            throw err;
          } finally {
            span.end();
          }
        },
      ),
    );
    settle("ack", () => msg.ack());
    recordEventConsumed(subject, "ack", elapsedSeconds());
  } catch (err) {
    if (err instanceof PermanentEventError) {
      log.error("event terminated: it can never be handled", { error: errorText(err), cause: err.cause === undefined ? undefined : errorText(err.cause) });
      settle("terminate", () => msg.term());
      recordEventConsumed(subject, "terminate", elapsedSeconds());
    } else if (lastDelivery) {
      log.error("EVENT GIVEN UP: the handler failed on its last delivery", { maxDeliver: settings.maxDeliver, error: errorText(err) });
      settle("terminate", () => msg.term());
      recordEventConsumed(subject, "terminate", elapsedSeconds());
    } else {
      const delayMs = backoffDelay(settings.backoffMs, deliveryCount);
      log.warn("handler failed; the event will be redelivered", { delayMs, error: errorText(err) });
      settle("nak", () => msg.nak(delayMs));
      recordEventConsumed(subject, "retry", elapsedSeconds());
    }
  } finally {
    clearInterval(heartbeat);
  }
}
