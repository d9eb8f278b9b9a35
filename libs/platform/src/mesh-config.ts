/** The environment every mesh service reads the same way (the README's configuration table). */
import { env } from "./config.js";
import { LOG_LEVELS, type LogLevel } from "./logger.js";

export interface MeshServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly natsUrl: string;
  readonly natsStream: string;
  readonly databaseUrl: string;
  readonly blobStoreUrl: string;
  readonly logLevel: LogLevel;
  readonly eventAckWaitMs: number;
  /** BLOB_ENCRYPTION_KEY: the filesystem blob store encrypts objects at rest with it (every service must share it). */
  readonly blobEncryptionKey?: string;
}

/**
 * Reads HOST, PORT, NATS_URL, NATS_STREAM, DATABASE_URL, BLOB_STORE_URL, LOG_LEVEL and
 * EVENT_ACK_WAIT_MS (and BLOB_ENCRYPTION_KEY when set). Call it inside loadConfig's build function so bad values are collected
 * with the service's own.
 */
export function meshServiceEnv(defaultPort: number): MeshServiceConfig {
  return {
    host: env.string("HOST", { default: "127.0.0.1" }),
    port: env.port("PORT", { default: defaultPort }),
    natsUrl: env.string("NATS_URL", { default: "nats://127.0.0.1:4222" }),
    natsStream: env.string("NATS_STREAM", { default: "VEXXY" }),
    databaseUrl: env.string("DATABASE_URL"),
    blobStoreUrl: env.string("BLOB_STORE_URL", { default: "file:///var/lib/vexxy/blobs" }),
    logLevel: env.oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    eventAckWaitMs: env.int("EVENT_ACK_WAIT_MS", { default: 30000, min: 1000, max: 600000 }),
    ...blobEncryptionEnv(),
  };
}

function blobEncryptionEnv(): { blobEncryptionKey?: string } {
  const key = env.optionalString("BLOB_ENCRYPTION_KEY");
  return key === undefined || key === "" ? {} : { blobEncryptionKey: key };
}
