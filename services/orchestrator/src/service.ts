/**
 * Wires the orchestrator: Postgres (MikroORM, schema "orchestrator"), object storage, the
 * event bus, the public API server, the job-event consumer and the reconciler.
 */
import { AnalysisService } from "@vexxy/proto";
import { connectEventBus, type EventBus } from "@vexxy/events";
import { createBlobStore, startEvidenceSweeper, type BlobStore } from "@vexxy/blobstore";
import { createLogger, startServer, type Logger } from "@vexxy/platform";
import { JwtVerifier, jwtAuthInterceptor } from "@vexxy/auth";
import { QuotaStore } from "./store/quota-store.js";
import { QuotaPolicy } from "./quota-policy.js";
import type { OrchestratorConfig } from "./config.js";
import { openOrchestratorOrm } from "./store/orm.js";
import { JobStore } from "./store/job-store.js";
import { JobLifecycle } from "./job-lifecycle.js";
import { JobWatchHub } from "./job-watch-hub.js";
import { analysisHandlers } from "./analysis-handlers.js";
import { routes } from "./server.js";
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

export interface OrchestratorOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
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
  const logger = overrides.logger ?? createLogger("orchestrator", { level: config.logLevel });
  const orm = await openOrchestratorOrm(config.databaseUrl);
  const closers: (() => Promise<void>)[] = [() => orm.close(true)];
  try {
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name: "orchestrator", streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
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
    // Errors reach callers through the platform server's error interceptor (toConnectError).
    // Built before anything listens: a JWKS file that cannot be read stops start-up here.
    const verifier = new JwtVerifier(config.auth.jwt);
    const quotaStore = new QuotaStore(orm.em);
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
    const server = await startServer({
      serviceName: "orchestrator",
      host: config.host,
      port: config.port,
      ...(config.http1Port !== undefined ? { http1Port: config.http1Port } : {}),
      routes: routes(handlers),
      services: [AnalysisService],
      logger,
      interceptors: [jwtAuthInterceptor(verifier)],
    });
    closers.push(() => server.close());
    // Runs before server.close(): open WatchAnalysis streams end instead of holding shutdown.
    closers.push(async () => hub.close());
    const subscription = await consumeJobEvents(bus, lifecycle, { ackWaitMs: config.eventAckWaitMs });
    closers.push(() => subscription.stop());
    const reconciler = startReconciler(lifecycle, config.reconcileIntervalMs, logger);
    closers.push(() => reconciler.stop());
    if (config.evidenceRetentionDays !== undefined) {
      // Filesystem store only (a no-op on S3, whose bucket lifecycle rule expires evidence).
      const sweeper = startEvidenceSweeper(blobs, config.evidenceRetentionDays, 3_600_000, logger);
      closers.push(() => sweeper.stop());
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
      closers.push(() => loop.stop());
    }
    return {
      port: server.port,
      url: server.url,
      http1Url: server.http1Url,
      store,
      quota: quotaStore,
      webhooks,
      audit,
      async close() {
        for (const close of closers.reverse()) await close().catch((err: unknown) => logger.error("close failed", { error: String(err) }));
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}
