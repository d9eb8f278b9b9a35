/**
 * @vexxy/testkit: real parts for tests, each started on a free port in a temp dir and stopped
 * afterwards: nats-server with JetStream, disposable PostgreSQL, s3rver, a grpc-js client. The
 * first two (and free ports, temp dirs) are the product's own runners from @vexxy/local-servers,
 * which the embedded stack uses directly; product code never depends on this package.
 */
export * from "./ports.js";
export * from "./temp-dir.js";
export * from "./nats-server.js";
export * from "./postgres.js";
export * from "./s3-server.js";
export * from "./grpc-js-client.js";
export * from "./auth.js";
