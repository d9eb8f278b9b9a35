/**
 * Wires the orchestrator: Postgres (MikroORM, schema "orchestrator"), object storage, the
 * event bus, the public API server, the job-event consumer and the reconciler.
 */
import { AnalysisService } from "@vexxy/proto";
import { startEvidenceSweeper } from "@vexxy/blobstore";
import { JwtVerifier, jwtAuthInterceptor } from "@vexxy/auth";
import { startMeshService, type MeshOverrides } from "@vexxy/stage";
import { QuotaStore } from "./store/quota-store.js";
import { QuotaPolicy } from "./quota-policy.js";
import type { OrchestratorConfig } from "./config.js";
import { openOrchestratorOrm } from "./store/orm.js";
import { JobStore } from "./store/job-store.js";
import { JobLifecycle } from "./job-lifecycle.js";
import { JobWatchHub } from "./job-watch-hub.js";
import { analysisHandlers } from "./analysis-handlers.js";
import { consumeJobEvents } from "./events/job-events-consumer.js";
import { startReconciler } from "./reconciler.js";
import { WebhookStore } from "./store/webhook-store.js";
import { AuditLog } from "./store/audit-log.js";
import { VerdictResults } from "./verdict-results.js";
import { CallbackGuard, systemResolver, type HostResolver } from "./webhooks/callback-guard.js";
import { httpConnector, type WebhookConnector } from "./webhooks/webhook-connector.js";
import { WebhookDispatcher } from "./webhooks/webhook-dispatcher.js";
import { parseWebhookSecret } from "./webhooks/webhook-signature.js";

export interface RunningOrchestrator {
  readonly port: number;
  readonly url: string;
  /** `http://host:port` of the HTTP/1.1 listener (Connect-web, gRPC-Web), when HTTP1_PORT is set. */
  readonly http1Url: string | undefined;
  readonly store: JobStore;
  /** Monthly quota rows (usage, per-organization overrides). */
  readonly quota: QuotaStore;
  readonly webhooks: WebhookStore;
  readonly audit: AuditLog;
  close(): Promise<void>;
}

export interface OrchestratorOverrides extends Omit<MeshOverrides, "ledger"> {
  /** Webhook host resolution (tests: a stand-in that records what it was asked). */
  readonly webhookResolver?: HostResolver;
  /** Webhook connection step (tests: a stand-in that records its target). */
  readonly webhookConnector?: WebhookConnector;
}

/**
 * Starts the orchestrator.
 * @throws when Postgres, NATS or the object store cannot be reached, or the port is taken.
 */
export async function startOrchestratorService(config: OrchestratorConfig, overrides: OrchestratorOverrides = {}): Promise<RunningOrchestrator> {
  // Built before anything connects: a JWKS file that cannot be read stops start-up here.
  const verifier = new JwtVerifier(config.auth.jwt);
  return await startMeshService({
    name: "orchestrator",
    config,
    overrides,
    service: AnalysisService,
    // The public API: callers present a JWT (not the internal secret).
    interceptors: [jwtAuthInterceptor(verifier)],
    async assemble({ logger, blobs, bus, onClose }) {
      const orm = await openOrchestratorOrm(config.databaseUrl);
      onClose(() => orm.close(true));
      const store = new JobStore(orm.em);
      const webhooks = new WebhookStore(orm.em);
      const audit = new AuditLog(orm.em);
      const webhookKey = config.webhooks === undefined ? undefined : parseWebhookSecret(config.webhooks.secret);
      const callbackGuard =
        config.webhooks === undefined
          ? undefined
          : new CallbackGuard({ allowLoopbackHttp: config.webhooks.allowLoopbackHttp }, overrides.webhookResolver ?? systemResolver);
      const hub = new JobWatchHub();
      const lifecycle = new JobLifecycle(store, bus, hub, config, logger);
      const quotaStore = new QuotaStore(orm.em);
      // Errors reach callers through the platform server's error interceptor (toConnectError).
      const handlers = analysisHandlers({
        store,
        blobs,
        lifecycle,
        hub,
        logger,
        imageTransports: config.imageTransports,
        estimatedDurationMinutes: 10,
        watchPollMs: config.watchPollMs,
        quota: new QuotaPolicy(quotaStore, config.auth),
        runtimeAnalysisTiers: config.auth.runtimeAnalysisTiers,
        audit,
        ...(callbackGuard !== undefined ? { callbackGuard } : {}),
      });
      return {
        handlers,
        async afterListen() {
          // Runs before the server closes: open WatchAnalysis streams end instead of holding shutdown.
          onClose(async () => hub.close());
          const subscription = await consumeJobEvents(bus, lifecycle, { ackWaitMs: config.eventAckWaitMs });
          onClose(() => subscription.stop());
          const reconciler = startReconciler(lifecycle, config.reconcileIntervalMs, logger);
          onClose(() => reconciler.stop());
          if (config.evidenceRetentionDays !== undefined) {
            // Filesystem store only (a no-op on S3, whose bucket lifecycle rule expires evidence).
            const sweeper = startEvidenceSweeper(blobs, config.evidenceRetentionDays, 3_600_000, logger);
            onClose(() => sweeper.stop());
          }
          if (config.webhooks !== undefined && callbackGuard !== undefined && webhookKey !== undefined) {
            const w = config.webhooks;
            const dispatcher = new WebhookDispatcher(
              webhooks,
              store,
              new VerdictResults(blobs),
              callbackGuard,
              overrides.webhookConnector ?? httpConnector,
              { key: webhookKey, retryWindowSeconds: w.retryWindowSeconds, baseDelayMs: w.retryBaseMs, maxDelayMs: w.retryMaxMs, timeoutMs: w.timeoutMs },
              logger,
            );
            const loop = dispatcher.start(w.pollMs);
            onClose(() => loop.stop());
          }
        },
        extra: { store, quota: quotaStore, webhooks, audit },
      };
    },
  });
}
