/**
 * Orchestrator configuration, read from the environment once and frozen. Every variable and
 * its default is listed in the README's configuration table.
 */
import { env, loadConfig, meshServiceEnv, type MeshServiceConfig } from "@vexxy/platform";
import { jwtAuthEnv, type JwtAuthSettings } from "@vexxy/auth";

export interface OrchestratorConfig extends MeshServiceConfig {
  readonly maxAttempts: number;
  readonly dispatchDeadlineSeconds: number;
  readonly runGraceSeconds: number;
  readonly stageDeadlineSeconds: number;
  readonly maxRedispatches: number;
  readonly reconcileIntervalMs: number;
  readonly watchPollMs: number;
  readonly imageTransports: readonly string[];
  /** Bearer JWT verification, tier entitlement and the monthly quota. */
  readonly auth: OrchestratorAuthConfig;
  /** Completion webhooks; absent (tests, or WEBHOOK_SECRET unset) means callback_url is refused. */
  readonly webhooks?: OrchestratorWebhookConfig;
  /** Filesystem store only: blobs under jobs/ older than this are swept (S3 uses a lifecycle rule). */
  readonly evidenceRetentionDays?: number;
  /**
   * A second, HTTP/1.1 listener with the same handlers, for browser clients (Connect-web,
   * gRPC-Web need HTTP/1.1; the main port is cleartext HTTP/2). Absent: none. 0: a free port.
   */
  readonly http1Port?: number;
}

/** AUTH_* (see @vexxy/auth), RUNTIME_ANALYSIS_TIERS and QUOTA_* settings. */
export interface OrchestratorAuthConfig {
  readonly jwt: JwtAuthSettings;
  /** Tiers (lower-case) whose organizations may run analyses. */
  readonly runtimeAnalysisTiers: readonly string[];
  /** Monthly analyses by tier (QUOTA_MONTHLY_LIMITS, "tier=n,..."). */
  readonly monthlyLimits: Readonly<Record<string, number>>;
  /** Monthly analyses of an allowed tier not listed in monthlyLimits. */
  readonly defaultMonthlyLimit: number;
}

/** WEBHOOK_* settings. */
export interface OrchestratorWebhookConfig {
  /** `whsec_<base64>`; checked by parseWebhookSecret at start-up. */
  readonly secret: string;
  readonly retryWindowSeconds: number;
  readonly allowLoopbackHttp: boolean;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly timeoutMs: number;
  readonly pollMs: number;
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
    auth: authEnv(),
    ...webhookEnv(),
    evidenceRetentionDays: env.int("EVIDENCE_RETENTION_DAYS", { default: 90, min: 1, max: 3650 }),
    ...http1Env(),
  }));
}

function http1Env(): { http1Port?: number } {
  return env.optionalString("HTTP1_PORT") === undefined ? {} : { http1Port: env.port("HTTP1_PORT") };
}

function tierList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
}

function authEnv(): OrchestratorAuthConfig {
  const raw = env.string("QUOTA_MONTHLY_LIMITS", { default: "ultimate=200" });
  const monthlyLimits: Record<string, number> = {};
  for (const item of raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const m = /^([A-Za-z0-9_-]+)=(\d{1,9})$/.exec(item);
    if (m === null) env.refuse("QUOTA_MONTHLY_LIMITS", raw, "expected tier=limit pairs separated by commas, e.g. ultimate=200,enterprise=50");
    else monthlyLimits[m[1]!.toLowerCase()] = Number(m[2]);
  }
  return {
    jwt: jwtAuthEnv(),
    runtimeAnalysisTiers: tierList(env.string("RUNTIME_ANALYSIS_TIERS", { default: "ultimate" })),
    monthlyLimits,
    defaultMonthlyLimit: env.int("QUOTA_DEFAULT_MONTHLY_LIMIT", { default: 50, min: 0, max: 1_000_000 }),
  };
}

function webhookEnv(): { webhooks?: OrchestratorWebhookConfig } {
  const secret = env.optionalString("WEBHOOK_SECRET");
  const settings = {
    retryWindowSeconds: env.int("WEBHOOK_RETRY_WINDOW_SECONDS", { default: 86400, min: 1, max: 30 * 86400 }),
    allowLoopbackHttp: env.bool("WEBHOOK_ALLOW_LOOPBACK_HTTP", { default: false }),
    retryBaseMs: env.int("WEBHOOK_RETRY_BASE_MS", { default: 5000, min: 10, max: 3600000 }),
    retryMaxMs: env.int("WEBHOOK_RETRY_MAX_MS", { default: 3600000, min: 10, max: 86400000 }),
    timeoutMs: env.int("WEBHOOK_TIMEOUT_MS", { default: 10000, min: 100, max: 120000 }),
    pollMs: env.int("WEBHOOK_POLL_MS", { default: 1000, min: 50, max: 600000 }),
  };
  return secret === undefined || secret === "" ? {} : { webhooks: { secret, ...settings } };
}
