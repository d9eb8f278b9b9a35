/**
 * Wires the sandbox service: the stage ledger (Postgres schema "sandbox"), object storage, the
 * event bus, the driver (runc here), the profiler client, the SandboxService server and the
 * consumers. Each process draws an instance id (logged) and answers presence probes for it.
 * Before consuming, attempts a process that is gone left "started" are recovered (container
 * destroyed, sandbox.failed {interrupted}), and again every few seconds, for replicas that
 * die and never come back; those of live replicas are left alone.
 */
import { SandboxService } from "@vexxy/proto";
import { startMeshService, type MeshOverrides } from "@vexxy/stage";
import type { SandboxConfig } from "./config.js";
import { createSandboxDriver } from "./driver/create-sandbox-driver.js";
import type { SandboxDriver } from "./driver/sandbox-driver.js";
import { consumeAnalysisEvents } from "./events/analysis-consumer.js";
import { LiveAttempts } from "./live-attempts.js";
import { sandboxHandlers } from "./sandbox-rpc.js";
import { RECOVERY_SWEEP_INTERVAL_MS, SandboxStage } from "./sandbox-stage.js";
import { SandboxAttemptStore } from "./store/sandbox-attempts.js";
import { ProfilerTraceAttacher, type TraceAttacher } from "./trace-attacher.js";

export interface RunningSandbox {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Parts a test may supply (the service then does not close them). */
export interface SandboxOverrides extends MeshOverrides {
  readonly driver?: SandboxDriver;
  readonly tracer?: TraceAttacher;
}

/**
 * Starts the service.
 * @throws when Postgres, NATS or the object store cannot be reached, the host has no cgroup v2
 * tree, or the port is taken.
 */
export async function startSandboxService(config: SandboxConfig, overrides: SandboxOverrides = {}): Promise<RunningSandbox> {
  return await startMeshService({
    name: "sandbox",
    config,
    overrides,
    service: SandboxService,
    async assemble({ logger, blobs, bus, instanceId, openLedger, onClose }) {
      const limits = Object.freeze({ memoryBytes: config.memoryBytes, pids: config.pids, cpus: config.cpus });
      const driver = overrides.driver ?? createSandboxDriver(config, limits);
      const ledger = await openLedger();
      const tracer = overrides.tracer ?? new ProfilerTraceAttacher(config.profilerUrl, config.internalAuthToken);
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
      return {
        handlers: sandboxHandlers({ attempts: new SandboxAttemptStore(ledger), driver, stage }),
        async afterListen() {
          const subscription = await consumeAnalysisEvents(bus, stage, { ackWaitMs: config.eventAckWaitMs, instanceId });
          onClose(() => subscription.stop());
          const sweep = stage.startRecoverySweep(RECOVERY_SWEEP_INTERVAL_MS);
          onClose(() => sweep.stop());
          // On close (this runs first), runs still going are torn down rather than left behind;
          // their rows stay "started" so the next start-up reports them interrupted.
          onClose(async () => {
            for (const attempt of live.all()) await driver.destroy(attempt.containerId).catch(() => undefined);
          });
        },
        extra: {},
      };
    },
  });
}
