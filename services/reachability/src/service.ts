/**
 * Wires the reachability service: the stage ledger (Postgres schema "reachability"), object
 * storage, the event bus, the ReachabilityService server and the durable consumer.
 */
import { ReachabilityService } from "@vexxy/proto";
import { startMeshService, type MeshOverrides } from "@vexxy/stage";
import type { ReachabilityConfig } from "./config.js";
import { consumeReachabilityEvents } from "./events/profile-ready-consumer.js";
import { VerdictStore } from "./store/verdict-store.js";
import { verdictHandlers } from "./verdicts-rpc.js";

export interface RunningReachability {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Parts a test may supply (the service then does not close them). */
export type ReachabilityOverrides = MeshOverrides;

/**
 * Starts the service.
 * @throws when Postgres, NATS or the object store cannot be reached, or the port is taken.
 */
export async function startReachabilityService(config: ReachabilityConfig, overrides: ReachabilityOverrides = {}): Promise<RunningReachability> {
  return await startMeshService({
    name: "reachability",
    config,
    overrides,
    service: ReachabilityService,
    async assemble({ logger, blobs, bus, openLedger, onClose }) {
      const ledger = await openLedger();
      const verdicts = new VerdictStore(blobs, ledger);
      return {
        handlers: verdictHandlers(verdicts),
        async afterListen() {
          const subscription = await consumeReachabilityEvents({ bus, blobs, ledger, verdicts, logger }, { ackWaitMs: config.eventAckWaitMs });
          onClose(() => subscription.stop());
        },
        extra: {},
      };
    },
  });
}
