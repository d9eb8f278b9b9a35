/**
 * Orchestrator configuration, read from the environment once and frozen. Every variable and
 * its default is listed in the README's configuration table.
 */
import { env, loadConfig, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";

export interface OrchestratorConfig extends MeshServiceConfig {
  readonly maxAttempts: number;
  readonly dispatchDeadlineSeconds: number;
  readonly runGraceSeconds: number;
  readonly stageDeadlineSeconds: number;
  readonly maxRedispatches: number;
  readonly reconcileIntervalMs: number;
  readonly watchPollMs: number;
  readonly imageTransports: readonly string[];
}

/**
 * Reads the orchestrator's configuration.
 * @throws ConfigError naming every bad variable.
 */
export function readOrchestratorConfig(): OrchestratorConfig {
  return loadConfig(() => ({
    ...meshServiceEnv(50051),
    maxAttempts: env.int("ORCHESTRATOR_MAX_ATTEMPTS", { default: 3, min: 1, max: 10 }),
    dispatchDeadlineSeconds: env.int("ORCHESTRATOR_DISPATCH_DEADLINE_SECONDS", { default: 300, min: 5, max: 3600 }),
    runGraceSeconds: env.int("ORCHESTRATOR_RUN_GRACE_SECONDS", { default: 120, min: 5, max: 3600 }),
    stageDeadlineSeconds: env.int("ORCHESTRATOR_STAGE_DEADLINE_SECONDS", { default: 180, min: 5, max: 3600 }),
    maxRedispatches: env.int("ORCHESTRATOR_MAX_REDISPATCHES", { default: 1, min: 0, max: 10 }),
    reconcileIntervalMs: env.int("ORCHESTRATOR_RECONCILE_INTERVAL_MS", { default: 2000, min: 100, max: 600000 }),
    watchPollMs: env.int("ORCHESTRATOR_WATCH_POLL_MS", { default: 1000, min: 50, max: 60000 }),
    imageTransports: env
      .string("ORCHESTRATOR_IMAGE_TRANSPORTS", { default: "oci:,oci-archive:,docker-archive:,docker://" })
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  }));
}
