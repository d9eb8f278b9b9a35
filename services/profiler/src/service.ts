/**
 * Wires the profiler: the tracer, the stage ledger (schema "profiler"), object storage, the
 * event bus, the ProfilerService server and the sandbox-events consumers. Each process draws an
 * instance id (logged) and answers presence probes for it. At start-up, traces left "started"
 * by a process that is gone (no presence answer) are reported lost: their tracer died with that
 * process; those of live replicas are left alone.
 */
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { connectEventBus, newInstanceId, ownerGone, type EventBus } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { createLogger, startServer, type Logger } from "@vexxy/platform";
import { internalAuthInterceptor } from "@vexxy/auth";
import { JobRefSchema, ProfilerService } from "@vexxy/proto";
import { create } from "@bufbuild/protobuf";
import type { ProfilerConfig } from "./config.js";
import { consumeSandboxEvents, publishTraceLost } from "./events/sandbox-events-consumer.js";
import { routes } from "./server.js";
import { TRACE_STAGE, TraceRegistry } from "./trace-registry.js";
import { traceHandlers } from "./trace-rpc.js";
import { createTracer } from "./tracer/create-tracer.js";
import type { Tracer } from "./tracer/tracer.js";

export interface RunningProfiler {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export interface ProfilerOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
  readonly ledger?: StageLedger;
  readonly tracer?: Tracer;
}

/** Starts the service. @throws when a dependency cannot be reached. */
export async function startProfilerService(config: ProfilerConfig, overrides: ProfilerOverrides = {}): Promise<RunningProfiler> {
  const logger = overrides.logger ?? createLogger("profiler", { level: config.logLevel });
  const closers: Array<() => Promise<void>> = [];
  try {
    const tracer = overrides.tracer ?? createTracer(config);
    const ledger = overrides.ledger ?? (await openStageLedger({ databaseUrl: config.databaseUrl, schema: "profiler", logger }));
    if (overrides.ledger === undefined) closers.push(() => ledger.close());
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name: "profiler", streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
    const instanceId = newInstanceId("profiler");
    await bus.announceInstance?.(instanceId);
    logger.info("profiler instance", { instance: instanceId });
    const registry = new TraceRegistry();
    closers.push(async () => {
      for (const s of registry.all()) await s.discard();
    });
    for (const row of await ledger.listByState("started")) {
      if (row.stage !== TRACE_STAGE || !(await ownerGone(bus, row.outcome["instanceId"]))) continue;
      await ledger.update(row.jobId, TRACE_STAGE, row.attempt, "interrupted", { reason: "profiler_restarted" });
      await publishTraceLost(
        { bus },
        create(JobRefSchema, { jobId: row.jobId, attempt: row.attempt }),
        "the profiler restarted while this attempt was traced; its trace is lost",
      );
      logger.warn("trace of an interrupted attempt reported lost", { job: row.jobId, attempt: row.attempt });
    }
    const server = await startServer({
      serviceName: "profiler",
      host: config.host,
      port: config.port,
      routes: routes(
        traceHandlers({
          tracer,
          registry,
          ledger,
          attachTimeoutMs: config.attachTimeoutMs,
          logger,
          instanceId,
          ownerAlive: async (owner) => !(await ownerGone(bus, owner)),
        }),
      ),
      services: [ProfilerService],
      logger,
      interceptors: [internalAuthInterceptor(config.internalAuthToken)],
    });
    closers.push(() => server.close());
    const subscription = await consumeSandboxEvents({ bus, blobs, ledger, registry, tracerName: tracer.name, logger, instanceId }, config.eventAckWaitMs);
    closers.push(() => subscription.stop());
    return {
      port: server.port,
      url: server.url,
      async close() {
        for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error("close failed", { error: String(error) }));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
