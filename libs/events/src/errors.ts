/** Errors of the event bus. */

/**
 * Thrown by a handler for an event that can never succeed (undecodable, refers to nothing):
 * the bus terminates it instead of redelivering it.
 */
export class PermanentEventError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentEventError";
  }
}

/** A publish that JetStream did not acknowledge after the retries. */
export class EventPublishError extends Error {
  constructor(readonly subject: string, readonly msgId: string, options?: { cause?: unknown }) {
    super(`publishing ${subject} (${msgId}) was not acknowledged by JetStream`, options);
    this.name = "EventPublishError";
  }
}
