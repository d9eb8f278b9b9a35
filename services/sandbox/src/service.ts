/**
 * Wires the sandbox service: the stage ledger (Postgres schema "sandbox"), object storage, the
 * event bus, the driver (runc here), the profiler client, the SandboxService server and the
 * consumers. Each process draws an instance id (logged) and answers presence probes for it.
 * Before consuming, attempts a process that is gone left "started" are recovered (container
 * destroyed, sandbox.failed {interrupted}), and again every few seconds, for replicas that
 * die and never come back; those of live replicas are left alone.
 */
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { connectEventBus, newInstanceId, type EventBus } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { createLogger, startServer, type Logger } from "@vexxy/platform";
import { internalAuthInterceptor } from "@vexxy/auth";
import { SandboxService } from "@vexxy/proto";
import type { SandboxConfig } from "./config.js";
import { createSandboxDriver } from "./driver/create-sandbox-driver.js";
import type { SandboxDriver } from "./driver/sandbox-driver.js";
import { consumeAnalysisEvents } from "./events/analysis-consumer.js";
import { LiveAttempts } from "./live-attempts.js";
import { sandboxHandlers } from "./sandbox-rpc.js";
import { RECOVERY_SWEEP_INTERVAL_MS, SandboxStage } from "./sandbox-stage.js";
import { routes } from "./server.js";
import { SandboxAttemptStore } from "./store/sandbox-attempts.js";
import { ProfilerTraceAttacher, type TraceAttacher } from "./trace-attacher.js";

export interface RunningSandbox {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Parts a test may supply (the service then does not close them). */
export interface SandboxOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
  readonly ledger?: StageLedger;
  readonly driver?: SandboxDriver;
  readonly tracer?: TraceAttacher;
}

/**
 * Starts the service.
 * @throws when Postgres, NATS or the object store cannot be reached, the host has no cgroup v2
 * tree, or the port is taken.
 */
export async function startSandboxService(config: SandboxConfig, overrides: SandboxOverrides = {}): Promise<RunningSandbox> {
  const logger = overrides.logger ?? createLogger("sandbox", { level: config.logLevel });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error("close failed", { error: String(error) }));
  };
  try {
    const limits = Object.freeze({ memoryBytes: config.memoryBytes, pids: config.pids, cpus: config.cpus });
    const driver = overrides.driver ?? createSandboxDriver(config, limits);
    const ledger = overrides.ledger ?? (await openStageLedger({ databaseUrl: config.databaseUrl, schema: "sandbox", logger }));
    if (overrides.ledger === undefined) closers.push(() => ledger.close());
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name: "sandbox", streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
    const tracer = overrides.tracer ?? new ProfilerTraceAttacher(config.profilerUrl, config.internalAuthToken);
    const instanceId = newInstanceId("sandbox");
    await bus.announceInstance?.(instanceId);
    logger.info("sandbox instance", { instance: instanceId });
    const live = new LiveAttempts();
    const stage = new SandboxStage({
      bus,
      blobs,
      ledger,
      driver,
      tracer,
      logger,
      live,
      instanceId,
      settings: { traceAttachTimeoutMs: config.traceAttachTimeoutMs, limits },
    });
    const recovered = await stage.recoverInterrupted();
    if (recovered > 0) logger.warn("interrupted attempts recovered at start-up", { count: recovered });
    const server = await startServer({
      serviceName: "sandbox",
      host: config.host,
      port: config.port,
      routes: routes(sandboxHandlers({ attempts: new SandboxAttemptStore(ledger), driver, stage })),
      services: [SandboxService],
      logger,
      interceptors: [internalAuthInterceptor(config.internalAuthToken)],
    });
    closers.push(() => server.close());
    const subscription = await consumeAnalysisEvents(bus, stage, { ackWaitMs: config.eventAckWaitMs, instanceId });
    closers.push(() => subscription.stop());
    const sweep = stage.startRecoverySweep(RECOVERY_SWEEP_INTERVAL_MS);
    closers.push(() => sweep.stop());
    // On close, runs still going are torn down rather than left behind; their rows stay
    // "started" so the next start-up reports them interrupted.
    closers.push(async () => {
      for (const attempt of live.all()) await driver.destroy(attempt.containerId).catch(() => undefined);
    });
    return { port: server.port, url: server.url, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
