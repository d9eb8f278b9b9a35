/** VEX service configuration, read once from the environment and frozen. */
import { env, loadConfig, type EnvSource } from "@vexxy/platform";

export interface VexConfig {
  readonly host: string;
  readonly port: number;
  readonly natsUrl: string;
  readonly natsStream: string;
  readonly databaseUrl: string;
  readonly blobStoreUrl: string;
  readonly logLevel: string;
  readonly eventAckWaitMs: number;
  readonly signingKeyFile: string | undefined;
  readonly stateDir: string;
  readonly author: string;
  readonly idBase: string;
}

/** Reads the configuration. @throws ConfigError naming every bad variable. */
export function readVexConfig(source: EnvSource = process.env): VexConfig {
  return loadConfig(
    () => ({
      host: env.string("HOST", { default: "127.0.0.1" }),
      port: env.port("PORT", { default: 50055 }),
      natsUrl: env.string("NATS_URL", { default: "nats://127.0.0.1:4222" }),
      natsStream: env.string("NATS_STREAM", { default: "VEXXY" }),
      databaseUrl: env.string("DATABASE_URL"),
      blobStoreUrl: env.string("BLOB_STORE_URL", { default: "file:///var/lib/vexxy/blobs" }),
      logLevel: env.oneOf("LOG_LEVEL", ["debug", "info", "warn", "error"], "info"),
      eventAckWaitMs: env.int("EVENT_ACK_WAIT_MS", { default: 30000, min: 1000, max: 600000 }),
      signingKeyFile: env.optionalString("VEX_SIGNING_KEY_FILE"),
      stateDir: env.string("VEX_STATE_DIR", { default: "/var/lib/vexxy/vex" }),
      author: env.string("VEX_AUTHOR", { default: "VEXxy runtime reachability" }),
      idBase: env.string("VEX_ID_BASE", { default: "https://vexxy.dev/vex/" }),
    }),
    source,
  );
}
