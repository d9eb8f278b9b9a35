/** @vexxy/events: the mesh's event bus on NATS JetStream, its subjects and payload schemas. */
export * from "./subjects.js";
export * from "./schemas.js";
export type { ConsumeOptions, EventBus, EventHandler, InboundEvent, Subscription } from "./event-bus.js";
export { PermanentEventError, EventPublishError, EventStreamError, EventConsumerError } from "./errors.js";
export { connectEventBus, CONSUME_DEFAULTS, type EventBusOptions } from "./jetstream-event-bus.js";
export { DUPLICATE_WINDOW_MS, MAX_AGE_MS } from "./stream-setup.js";
export { consumerName } from "./consumer-setup.js";
