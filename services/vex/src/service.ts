/**
 * Wires the VEX service: the signing key, the stage ledger (Postgres schema "vex"), object
 * storage, the event bus, the VexService server and the reachability.scored consumer.
 */
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { connectEventBus, type EventBus } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { createLogger, startServer, type Logger } from "@vexxy/platform";
import { internalAuthInterceptor } from "@vexxy/auth";
import { VexService } from "@vexxy/proto";
import type { VexConfig } from "./config.js";
import { consumeScoredEvents } from "./events/scored-consumer.js";
import type { VexSettings } from "./produce-vex.js";
import { routes } from "./server.js";
import { loadKeyRing, singleKeyRing } from "./signing/key-ring.js";
import type { SigningKey } from "./signing/signing-key.js";
import { vexHandlers } from "./vex-rpc.js";

/** OpenVEX `tooling` of every document. */
export const VEX_TOOLING =
  "VEXxy runtime reachability: the image run in a sandbox, its file and executable accesses traced with eBPF, matched to package files";

/** A started VEX service. */
export interface RunningVex {
  readonly port: number;
  readonly url: string;
  /** The public key that verifies this service's bundles (SPKI PEM). */
  readonly publicKeyPem: string;
  close(): Promise<void>;
}

/** Parts a test may supply (the service then does not close them). */
export interface VexOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
  readonly ledger?: StageLedger;
  readonly key?: SigningKey;
}

/**
 * Starts the service.
 * @throws SigningKeyError when the signing key is unusable; an error from the ledger, the bus
 *   or the server when Postgres or NATS cannot be reached or the port is taken.
 */
export async function startVexService(config: VexConfig, overrides: VexOverrides = {}): Promise<RunningVex> {
  const logger = overrides.logger ?? createLogger("vex", { level: config.logLevel });
  const closers: Array<() => Promise<void>> = [];
  try {
    const keys = overrides.key !== undefined ? singleKeyRing(overrides.key) : await loadKeyRing(config.signingKeyFile, config.stateDir, logger);
    const key = keys.active;
    const ledger = overrides.ledger ?? (await openStageLedger({ databaseUrl: config.databaseUrl, schema: "vex", logger }));
    if (overrides.ledger === undefined) closers.push(() => ledger.close());
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name: "vex", streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
    const server = await startServer({
      serviceName: "vex",
      host: config.host,
      port: config.port,
      routes: routes(vexHandlers({ ledger, blobs, keys })),
      services: [VexService],
      logger,
      interceptors: [internalAuthInterceptor(config.internalAuthToken)],
    });
    closers.push(() => server.close());
    const settings: VexSettings = { author: config.author, idBase: config.idBase, tooling: VEX_TOOLING };
    const subscription = await consumeScoredEvents({ bus, blobs, ledger, key, settings, logger }, config.eventAckWaitMs);
    closers.push(() => subscription.stop());
    logger.info("VEX signing key", { keyHint: key.hint, verificationKeys: keys.keys.length });
    return {
      port: server.port,
      url: server.url,
      publicKeyPem: key.publicKeyPem,
      async close() {
        for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error("close failed", { error: String(error) }));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
