/**
 * Wires the reachability service: the stage ledger (Postgres schema "reachability"), object
 * storage, the event bus, the ReachabilityService server and the durable consumer.
 */
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { connectEventBus, type EventBus } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { createLogger, startServer, type Logger } from "@vexxy/platform";
import { internalAuthInterceptor } from "@vexxy/auth";
import { ReachabilityService } from "@vexxy/proto";
import type { ReachabilityConfig } from "./config.js";
import { consumeReachabilityEvents } from "./events/profile-ready-consumer.js";
import { routes } from "./server.js";
import { VerdictStore } from "./store/verdict-store.js";
import { verdictHandlers } from "./verdicts-rpc.js";

export interface RunningReachability {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Parts a test may supply (the service then does not close them). */
export interface ReachabilityOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
  readonly ledger?: StageLedger;
}

/**
 * Starts the service.
 * @throws when Postgres, NATS or the object store cannot be reached, or the port is taken.
 */
export async function startReachabilityService(config: ReachabilityConfig, overrides: ReachabilityOverrides = {}): Promise<RunningReachability> {
  const logger = overrides.logger ?? createLogger("reachability", { level: config.logLevel });
  const closers: Array<() => Promise<void>> = [];
  try {
    const ledger = overrides.ledger ?? (await openStageLedger({ databaseUrl: config.databaseUrl, schema: "reachability", logger }));
    if (overrides.ledger === undefined) closers.push(() => ledger.close());
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name: "reachability", streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
    const verdicts = new VerdictStore(blobs, ledger);
    const server = await startServer({
      serviceName: "reachability",
      host: config.host,
      port: config.port,
      routes: routes(verdictHandlers(verdicts)),
      services: [ReachabilityService],
      logger,
      interceptors: [internalAuthInterceptor(config.internalAuthToken)],
    });
    closers.push(() => server.close());
    const subscription = await consumeReachabilityEvents({ bus, blobs, ledger, verdicts, logger }, { ackWaitMs: config.eventAckWaitMs });
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
