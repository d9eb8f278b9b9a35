/**
 * Wires the VEX service: the signing key, the stage ledger (Postgres schema "vex"), object
 * storage, the event bus, the VexService server and the reachability.scored consumer.
 */
import { VexService } from "@vexxy/proto";
import { startMeshService, type MeshOverrides } from "@vexxy/stage";
import type { VexConfig } from "./config.js";
import { consumeScoredEvents } from "./events/scored-consumer.js";
import type { VexSettings } from "./produce-vex.js";
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
export interface VexOverrides extends MeshOverrides {
  readonly key?: SigningKey;
}

/**
 * Starts the service.
 * @throws SigningKeyError when the signing key is unusable; an error from the ledger, the bus
 *   or the server when Postgres or NATS cannot be reached or the port is taken.
 */
export async function startVexService(config: VexConfig, overrides: VexOverrides = {}): Promise<RunningVex> {
  return await startMeshService({
    name: "vex",
    config,
    overrides,
    service: VexService,
    async assemble({ logger, blobs, bus, openLedger, onClose }) {
      const keys = overrides.key !== undefined ? singleKeyRing(overrides.key) : await loadKeyRing(config.signingKeyFile, config.stateDir, logger);
      const key = keys.active;
      const ledger = await openLedger();
      const settings: VexSettings = { author: config.author, idBase: config.idBase, tooling: VEX_TOOLING };
      logger.info("VEX signing key", { keyHint: key.hint, verificationKeys: keys.keys.length });
      return {
        handlers: vexHandlers({ ledger, blobs, keys }),
        async afterListen() {
          const subscription = await consumeScoredEvents({ bus, blobs, ledger, key, settings, logger }, config.eventAckWaitMs);
          onClose(() => subscription.stop());
        },
        extra: { publicKeyPem: key.publicKeyPem },
      };
    },
  });
}
