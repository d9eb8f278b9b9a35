/** Profiler configuration, read once from the environment and frozen. */
import { env, loadConfig, type EnvSource, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";
import { internalAuthEnv } from "@vexxy/auth";

export interface ProfilerConfig extends MeshServiceConfig {
  /** The mesh's shared secret, required on every call (the sandbox's StartTrace). */
  readonly internalAuthToken: string;
  readonly tracer: "bpftrace" | "strace";
  readonly bpftracePath: string;
  readonly stracePath: string;
  readonly mapKeysMax: number;
  readonly attachTimeoutMs: number;
}

/** Reads the configuration. @throws ConfigError naming every bad variable. */
export function readProfilerConfig(source: EnvSource = process.env): ProfilerConfig {
  return loadConfig(
    () => ({
      ...meshServiceEnv(50053),
      internalAuthToken: internalAuthEnv(),
      // bpftrace (eBPF, identities read in the kernel) or strace (ptrace, for hosts without eBPF);
      // Tracee is the planned production stream and is refused at start-up rather than tracing nothing.
      tracer: env.oneOf("TRACER", ["bpftrace", "strace"], "bpftrace"),
      bpftracePath: env.string("BPFTRACE_PATH", { default: "bpftrace" }),
      stracePath: env.string("STRACE_PATH", { default: "strace" }),
      mapKeysMax: env.int("BPFTRACE_MAP_KEYS_MAX", { default: 65536, min: 16, max: 10_000_000 }),
      attachTimeoutMs: env.int("TRACE_ATTACH_TIMEOUT_MS", { default: 10000, min: 500, max: 120000 }),
    }),
    source,
  );
}
