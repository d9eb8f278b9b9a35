/**
 * Reachability configuration, read from the environment once and frozen.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | HOST | 127.0.0.1 | listen address |
 * | PORT | 50054 | gRPC/Connect port (0: any free port) |
 * | NATS_URL | nats://127.0.0.1:4222 | NATS server |
 * | NATS_STREAM | VEXXY | JetStream stream |
 * | DATABASE_URL | (required) | postgres://... for the stage ledger (schema "reachability") |
 * | BLOB_STORE_URL | file:///var/lib/vexxy/blobs | object storage (file:// or s3://) |
 * | LOG_LEVEL | info | debug, info, warn, error |
 * | EVENT_ACK_WAIT_MS | 30000 | ack wait of the durable consumer before redelivery |
 */
import { loadConfig, type EnvSource, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";
import { internalAuthEnv } from "@vexxy/auth";

export interface ReachabilityConfig extends MeshServiceConfig {
  /** The mesh's shared secret, required on every call. */
  readonly internalAuthToken: string;
}

/**
 * Reads the configuration from `source` (process.env by default).
 * @throws ConfigError naming every bad variable.
 */
export function readReachabilityConfig(source: EnvSource = process.env): ReachabilityConfig {
  return loadConfig(
    () => ({
      ...meshServiceEnv(50054),
      internalAuthToken: internalAuthEnv(),
    }),
    source,
  );
}
