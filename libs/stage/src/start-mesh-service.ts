/**
 * The one wiring every mesh service shares: logger, object storage, the event bus, an instance
 * id answering presence probes, the stage ledger when the service keeps one, the RPC server, then
 * the consumers; and a close() that stops it all in reverse order (consumers first, the bus and
 * the ledger last). Parts a test supplies (overrides) are used as given and never closed.
 * A service's own file (service.ts) only assembles what is particular to it.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import { internalAuthInterceptor } from "@vexxy/auth";
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { connectEventBus, newInstanceId, type EventBus } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { ConfigError, createLogger, startServer, type Logger, type MeshServiceConfig } from "@vexxy/platform";

/** Shared parts a test may supply (the service then does not close them). */
export interface MeshOverrides {
  readonly logger?: Logger;
  readonly bus?: EventBus;
  readonly blobs?: BlobStore;
  readonly ledger?: StageLedger;
}

/** What assemble() gets. */
export interface MeshParts {
  readonly logger: Logger;
  readonly blobs: BlobStore;
  readonly bus: EventBus;
  /** This process's instance id (`<service>-<hex>`), announced on the bus. */
  readonly instanceId: string;
  /** Opens the stage ledger in the service's Postgres schema (the override when given), closed on close(). */
  openLedger(): Promise<StageLedger>;
  /** Registers something to stop on close(); closers run in reverse order of registration. */
  onClose(closer: () => Promise<void>): void;
}

/** What a service assembles from the shared parts. */
export interface MeshAssembly<T extends DescService, X> {
  readonly handlers: ServiceImpl<T>;
  /** Starts consumers and loops once the server listens (register their stops with parts.onClose). */
  afterListen?(): Promise<void>;
  /** Whatever else the started service exposes (stores for tests, a public key). */
  readonly extra: X;
}

/** One service's wiring. */
export interface MeshServiceDefinition<T extends DescService, X> {
  /** The service's name: logs, the NATS connection, the instance id and the ledger's Postgres schema. */
  readonly name: string;
  readonly config: MeshServiceConfig & { readonly internalAuthToken?: string; readonly http1Port?: number };
  readonly overrides?: MeshOverrides;
  readonly service: T;
  /** RPC interceptors (default: the internal shared-secret check with config.internalAuthToken). */
  readonly interceptors?: readonly Interceptor[];
  assemble(parts: MeshParts): Promise<MeshAssembly<T, X>>;
}

/** The internal shared secret, which must be set when the default interceptor is used. */
function internalToken(token: string | undefined): string {
  if (token === undefined || token === "")
    throw new ConfigError([
      { variable: "INTERNAL_AUTH_TOKEN", value: token, message: "INTERNAL_AUTH_TOKEN: required (the shared secret the services check on every internal call)" },
    ]);
  return token;
}

/** A started service. */
export interface RunningMeshService {
  readonly port: number;
  readonly url: string;
  readonly http1Url: string | undefined;
  readonly instanceId: string;
  close(): Promise<void>;
}

/**
 * Starts a service.
 * @throws when Postgres, NATS or the object store cannot be reached, the port is taken, or
 *   assemble() throws (everything started so far is closed again first).
 */
export async function startMeshService<T extends DescService, X>(definition: MeshServiceDefinition<T, X>): Promise<RunningMeshService & X> {
  const { name, config } = definition;
  const overrides = definition.overrides ?? {};
  const interceptors = definition.interceptors ?? [internalAuthInterceptor(internalToken(config.internalAuthToken))];
  const logger = overrides.logger ?? createLogger(name, { level: config.logLevel });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (log: boolean): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      await close().catch((error: unknown) => {
        if (log) logger.error("close failed", { error: String(error) });
      });
    }
  };
  try {
    const blobs =
      overrides.blobs ?? createBlobStore(config.blobStoreUrl, config.blobEncryptionKey !== undefined ? { encryptionKey: config.blobEncryptionKey } : {});
    const bus = overrides.bus ?? (await connectEventBus({ servers: config.natsUrl, name, streamName: config.natsStream, logger }));
    if (overrides.bus === undefined) closers.push(() => bus.close());
    const instanceId = newInstanceId(name);
    await bus.announceInstance?.(instanceId);
    logger.info(`${name} instance`, { instance: instanceId });
    let ledger: Promise<StageLedger> | undefined;
    const parts: MeshParts = {
      logger,
      blobs,
      bus,
      instanceId,
      openLedger() {
        ledger ??=
          overrides.ledger !== undefined
            ? Promise.resolve(overrides.ledger)
            : openStageLedger({ databaseUrl: config.databaseUrl, schema: name, logger }).then((opened) => {
                closers.push(() => opened.close());
                return opened;
              });
        return ledger;
      },
      onClose(closer) {
        closers.push(closer);
      },
    };
    const assembly = await definition.assemble(parts);
    const server = await startServer({
      serviceName: name,
      host: config.host,
      port: config.port,
      ...(config.http1Port !== undefined ? { http1Port: config.http1Port } : {}),
      routes: (router) => {
        router.service(definition.service, assembly.handlers);
      },
      services: [definition.service],
      logger,
      interceptors,
    });
    closers.push(() => server.close());
    await assembly.afterListen?.();
    return {
      ...assembly.extra,
      port: server.port,
      url: server.url,
      http1Url: server.http1Url,
      instanceId,
      close: () => closeAll(true),
    };
  } catch (error) {
    await closeAll(false);
    throw error;
  }
}
