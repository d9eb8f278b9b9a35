/** @vexxy/events: the mesh's event bus on NATS JetStream, its subjects and payload schemas. */
export * from "./subjects.js";
export * from "./schemas.js";
export type { ConsumeOptions, EventBus, EventHandler, InboundEvent, Subscription } from "./event-bus.js";
export { PermanentEventError, EventPublishError } from "./errors.js";
export { connectEventBus, type EventBusOptions } from "./jetstream-event-bus.js";
