/**
 * VEX service configuration, read from the environment once and frozen.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | HOST | 127.0.0.1 | listen address |
 * | PORT | 50055 | gRPC/Connect port (0: any free port) |
 * | NATS_URL | nats://127.0.0.1:4222 | NATS server |
 * | NATS_STREAM | VEXXY | JetStream stream |
 * | DATABASE_URL | (required) | postgres://... for the stage ledger (schema "vex") |
 * | BLOB_STORE_URL | file:///var/lib/vexxy/blobs | object storage (file:// or s3://) |
 * | LOG_LEVEL | info | debug, info, warn, error |
 * | EVENT_ACK_WAIT_MS | 30000 | ack wait of the durable consumer before redelivery |
 * | VEX_SIGNING_KEY_FILE | (unset) | ECDSA P-256 private key, PKCS#8 PEM, that signs; unset or naming no file: the active key of VEX_STATE_DIR/keys/, else the key kept in VEX_STATE_DIR, generated on first start |
 * | VEX_STATE_DIR | /var/lib/vexxy/vex | where the generated key (vex-signing.key.pem, mode 0600) is kept, and the key ring after a rotation (`vexxy keys rotate`): keys/<fingerprint>.pem, keys/<fingerprint>.pub.pem (verify only) and keys/active |
 * | VEX_AUTHOR | VEXxy runtime reachability | OpenVEX `author` |
 * | VEX_ID_BASE | https://vexxy.dev/vex/ | prefix of document ids: `<base><jobId>/<attempt>` (an absolute IRI) |
 */
import { env, loadConfig, type EnvSource, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";
import { internalAuthEnv } from "@vexxy/auth";

export interface VexConfig extends MeshServiceConfig {
  /** The mesh's shared secret, required on every call. */
  readonly internalAuthToken: string;
  readonly signingKeyFile: string | undefined;
  readonly stateDir: string;
  readonly author: string;
  readonly idBase: string;
}

/**
 * Reads the configuration from `source` (process.env by default).
 * @throws ConfigError naming every bad variable.
 */
export function readVexConfig(source: EnvSource = process.env): VexConfig {
  return loadConfig(
    () => ({
      ...meshServiceEnv(50055),
      internalAuthToken: internalAuthEnv(),
      signingKeyFile: env.optionalString("VEX_SIGNING_KEY_FILE"),
      stateDir: env.string("VEX_STATE_DIR", { default: "/var/lib/vexxy/vex" }),
      author: env.string("VEX_AUTHOR", { default: "VEXxy runtime reachability" }),
      idBase: env.url("VEX_ID_BASE", { default: "https://vexxy.dev/vex/" }),
    }),
    source,
  );
}
