/**
 * Wires the profiler: the tracer, the stage ledger (schema "profiler"), object storage, the
 * event bus, the ProfilerService server and the sandbox-events consumers. Each process draws an
 * instance id (logged) and answers presence probes for it. At start-up, traces left "started"
 * by a process that is gone (no presence answer) are reported lost: their tracer died with that
 * process; those of live replicas are left alone.
 */
import { ownerGone } from "@vexxy/events";
import { JobRefSchema, ProfilerService } from "@vexxy/proto";
import { startMeshService, type MeshOverrides } from "@vexxy/stage";
import { create } from "@bufbuild/protobuf";
import type { ProfilerConfig } from "./config.js";
import { consumeSandboxEvents, traceLifecycle, traceLost } from "./events/sandbox-events-consumer.js";
import { TraceRegistry } from "./trace-registry.js";
import { traceHandlers } from "./trace-rpc.js";
import { createTracer } from "./tracer/create-tracer.js";
import type { Tracer } from "./tracer/tracer.js";

export interface RunningProfiler {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export interface ProfilerOverrides extends MeshOverrides {
  readonly tracer?: Tracer;
}

/** Starts the service. @throws when a dependency cannot be reached. */
export async function startProfilerService(config: ProfilerConfig, overrides: ProfilerOverrides = {}): Promise<RunningProfiler> {
  return await startMeshService({
    name: "profiler",
    config,
    overrides,
    service: ProfilerService,
    async assemble({ logger, blobs, bus, instanceId, openLedger, onClose }) {
      const tracer = overrides.tracer ?? createTracer(config);
      const ledger = await openLedger();
      const registry = new TraceRegistry();
      onClose(async () => {
        for (const s of registry.all()) await s.discard();
      });
      const deps = { bus, blobs, ledger, registry, tracerName: tracer.name, logger, instanceId };
      const lifecycle = traceLifecycle(deps);
      for (const row of await lifecycle.started()) {
        if (!(await ownerGone(bus, row.owner))) continue;
        const job = create(JobRefSchema, { jobId: row.jobId, attempt: row.attempt });
        await lifecycle.fail(job, traceLost("the profiler restarted while this attempt was traced; its trace is lost"), "interrupted");
        logger.warn("trace of an interrupted attempt reported lost", { job: row.jobId, attempt: row.attempt });
      }
      return {
        handlers: traceHandlers({
          tracer,
          registry,
          trace: lifecycle,
          attachTimeoutMs: config.attachTimeoutMs,
          logger,
          instanceId,
          ownerAlive: async (owner) => !(await ownerGone(bus, owner)),
        }),
        async afterListen() {
          const subscription = await consumeSandboxEvents(deps, config.eventAckWaitMs);
          onClose(() => subscription.stop());
        },
        extra: {},
      };
    },
  });
}
