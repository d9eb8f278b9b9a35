/** @vexxy/events: the mesh's event bus on NATS JetStream, its subjects and payload schemas. */
export * from "./subjects.js";
export * from "./schemas.js";
export type { ConsumeOptions, EventBus, EventHandler, InboundEvent, InboundEventOf, Subscription } from "./event-bus.js";
export { PermanentEventError, EventPublishError, EventStreamError, EventConsumerError, InstancePresenceError } from "./errors.js";
export { connectEventBus, CONSUME_DEFAULTS, presenceSubject, type EventBusOptions } from "./jetstream-event-bus.js";
export { DUPLICATE_WINDOW_MS, MAX_AGE_MS } from "./stream-setup.js";
export { consumerName, INSTANCE_INACTIVE_THRESHOLD_MS } from "./consumer-setup.js";
export { newInstanceId, ownerGone } from "./instance-id.js";
