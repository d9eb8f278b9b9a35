/** Errors of the event bus. */

/**
 * Thrown by a handler for an event that can never succeed (undecodable, refers to nothing):
 * the bus terminates it (`term()`) instead of redelivering it, and logs it at error level.
 */
export class PermanentEventError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentEventError";
  }
}

/** A publish that JetStream did not acknowledge after the retries (the cause is the last failure). */
export class EventPublishError extends Error {
  constructor(
    readonly subject: string,
    readonly msgId: string,
    options?: { cause?: unknown },
  ) {
    super(`publishing ${subject} (${msgId}) was not acknowledged by JetStream`, options);
    this.name = "EventPublishError";
  }
}

/**
 * The stream could not be created or brought to the mesh's configuration: most often another
 * stream on the same server already holds the `vexxy.>` subjects (one stream per server).
 */
export class EventStreamError extends Error {
  constructor(
    readonly stream: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`stream ${stream}: ${message}`, options);
    this.name = "EventStreamError";
  }
}

/** A durable consumer could not be created or updated. */
export class EventConsumerError extends Error {
  constructor(
    readonly consumer: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`consumer ${consumer}: ${message}`, options);
    this.name = "EventConsumerError";
  }
}

/** A presence probe got no answer in time: the instance may be alive but busy, or NATS is down. */
export class InstancePresenceError extends Error {
  constructor(
    readonly instanceId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`instance ${instanceId}: ${message}`, options);
    this.name = "InstancePresenceError";
  }
}
