/**
 * @vexxy/testkit: real parts for tests and the embedded stack, each started on a free port in
 * a temp dir and stopped afterwards: nats-server with JetStream, embedded PostgreSQL, s3rver.
 */
export * from "./ports.js";
export * from "./temp-dir.js";
export * from "./nats-server.js";
export * from "./postgres.js";
export * from "./s3-server.js";
export * from "./grpc-js-client.js";
