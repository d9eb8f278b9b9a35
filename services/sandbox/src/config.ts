/**
 * Sandbox configuration, read from the environment once and frozen.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | HOST | 127.0.0.1 | listen address |
 * | PORT | 50052 | gRPC/Connect port (0: any free port) |
 * | NATS_URL | nats://127.0.0.1:4222 | NATS server |
 * | NATS_STREAM | VEXXY | JetStream stream |
 * | DATABASE_URL | (required) | postgres://... for the stage ledger (schema "sandbox") |
 * | BLOB_STORE_URL | file:///var/lib/vexxy/blobs | object storage (file:// or s3://) |
 * | LOG_LEVEL | info | debug, info, warn, error |
 * | SANDBOX_WORK_DIR | /var/lib/vexxy/sandbox | unpacked images (images/<id>) and runc bundles (bundles/<id>) |
 * | SANDBOX_DRIVER | local | sandbox driver: local (runc on this host); kubernetes is refused at start-up (not built yet) |
 * | PROFILER_URL | http://127.0.0.1:50053 | ProfilerService, called for StartTrace before every start |
 * | TRACE_ATTACH_TIMEOUT_MS | 15000 | deadline of StartTrace; without an answer the workload never starts |
 * | SANDBOX_MEMORY_BYTES | 4294967296 | memory limit of a sandbox (no swap beyond it) |
 * | SANDBOX_PIDS | 512 | pids limit of a sandbox |
 * | SANDBOX_CPUS | 1 | CPU limit of a sandbox (decimal, e.g. 0.5); below the host size by default |
 * | SANDBOX_MAX_UNPACKED_BYTES | 5368709120 | an image unpacking to more is refused (image_too_large) |
 * | SANDBOX_OUTPUT_CAP_BYTES | 4194304 | workload stdout and stderr kept per stream (head and tail; the truncation is recorded) |
 * | RUNC_PATH | runc | the runc binary |
 * | EVENT_ACK_WAIT_MS | 30000 | ack wait of the durable consumer (long runs extend it while working) |
 */
import { ConfigError, env, loadConfig, type EnvSource, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";
import { internalAuthEnv } from "@vexxy/auth";

export interface SandboxConfig extends MeshServiceConfig {
  /** The mesh's shared secret: required on every call to this service, sent on StartTrace to the profiler. */
  readonly internalAuthToken: string;
  readonly workDir: string;
  readonly driver: "local" | "kubernetes";
  readonly profilerUrl: string;
  readonly traceAttachTimeoutMs: number;
  readonly memoryBytes: number;
  readonly pids: number;
  readonly cpus: number;
  readonly maxUnpackedBytes: number;
  readonly runcPath: string;
  readonly outputCapBytes: number;
}

/**
 * Reads the configuration from `source` (process.env by default).
 * @throws ConfigError naming every bad variable.
 */
export function readSandboxConfig(source: EnvSource = process.env): SandboxConfig {
  const config = loadConfig(
    () => ({
      ...meshServiceEnv(50052),
      internalAuthToken: internalAuthEnv(),
      workDir: env.string("SANDBOX_WORK_DIR", { default: "/var/lib/vexxy/sandbox" }),
      driver: env.oneOf("SANDBOX_DRIVER", ["local", "kubernetes"], "local"),
      profilerUrl: env.url("PROFILER_URL", { default: "http://127.0.0.1:50053", protocols: ["http", "https"] }),
      traceAttachTimeoutMs: env.int("TRACE_ATTACH_TIMEOUT_MS", { default: 15000, min: 100, max: 300000 }),
      memoryBytes: env.int("SANDBOX_MEMORY_BYTES", { default: 4 * 1024 ** 3, min: 16 * 1024 ** 2 }),
      pids: env.int("SANDBOX_PIDS", { default: 512, min: 8, max: 1_000_000 }),
      cpus: env.string("SANDBOX_CPUS", { default: "1" }),
      maxUnpackedBytes: env.int("SANDBOX_MAX_UNPACKED_BYTES", { default: 5 * 1024 ** 3, min: 1024 * 1024 }),
      runcPath: env.string("RUNC_PATH", { default: "runc" }),
      outputCapBytes: env.int("SANDBOX_OUTPUT_CAP_BYTES", { default: 4 * 1024 ** 2, min: 4096, max: 1024 ** 3 }),
    }),
    source,
  );
  if (!config.workDir.startsWith("/")) {
    throw new ConfigError([
      {
        variable: "SANDBOX_WORK_DIR",
        value: config.workDir,
        message: `SANDBOX_WORK_DIR=${JSON.stringify(config.workDir)} is invalid: expected an absolute path`,
      },
    ]);
  }
  const cpus = /^\d+(\.\d+)?$/.test(config.cpus.trim()) ? Number(config.cpus) : Number.NaN;
  if (!(cpus >= 0.01 && cpus <= 1024)) {
    throw new ConfigError([
      {
        variable: "SANDBOX_CPUS",
        value: config.cpus,
        message: `SANDBOX_CPUS=${JSON.stringify(config.cpus)} is invalid: expected a decimal number of CPUs from 0.01 to 1024`,
      },
    ]);
  }
  return Object.freeze({ ...config, cpus });
}
