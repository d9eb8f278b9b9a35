/**
 * An in-process orchestrator for the auth, tenancy and quota tests: real PostgreSQL, a real
 * nats-server, the filesystem blob store, and plain @grpc/grpc-js clients (the way VEXxy core
 * calls us) carrying a bearer token. The other four services are not running: a test that needs
 * a stage's answer publishes it itself on `stages`.
 */
import { connectEventBus, type EventBus } from "@vexxy/events";
import { FilesystemBlobStore } from "@vexxy/blobstore";
import { noopLogger } from "@vexxy/platform";
import { AnalysisService } from "@vexxy/proto";
import { createGrpcJsClient, startNatsServer, startPostgres, tempDir, type GrpcJsClient, type TempDir } from "@vexxy/testkit";
import { startOrchestratorService, type OrchestratorAuthConfig, type RunningOrchestrator } from "../../src/index.js";

export type ApiClient = GrpcJsClient<typeof AnalysisService>;

export interface TestOrchestrator {
  readonly orchestrator: RunningOrchestrator;
  readonly dir: TempDir;
  /** Publishes what the stages would (sandbox.failed, sandbox.started...). */
  readonly stages: EventBus;
  /** A grpc-js client sending `token` as bearer (none when undefined). */
  client(token?: string): ApiClient;
  stop(): Promise<void>;
}

/** One finding, so a submit is billed and dispatched (a scan without findings completes at submit). */
export const ONE_FINDING_SCAN = Buffer.from(
  JSON.stringify({ matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }] }),
);
export const NO_FINDING_SCAN = Buffer.from(JSON.stringify({ matches: [] }));
export const DIGEST = `sha256:${"c".repeat(64)}`;

/** Starts PostgreSQL, nats-server and the orchestrator with `auth` (its JWKS must exist already). */
export async function startTestOrchestrator(
  name: string,
  auth: (dir: string) => Promise<OrchestratorAuthConfig>,
  options: { readonly http1Port?: number } = {},
): Promise<TestOrchestrator> {
  const dir = await tempDir(name);
  const pg = await startPostgres();
  const nats = await startNatsServer();
  const clients: ApiClient[] = [];
  let orchestrator: RunningOrchestrator | undefined;
  let stages: EventBus | undefined;
  const stop = async (): Promise<void> => {
    for (const c of clients) c.close();
    await stages?.close();
    await orchestrator?.close();
    await nats.stop();
    await pg.stop();
    await dir.remove();
  };
  try {
    orchestrator = await startOrchestratorService(
      Object.freeze({
        host: "127.0.0.1",
        port: 0,
        natsUrl: nats.url,
        natsStream: "VEXXY",
        databaseUrl: await pg.createDatabase(name.replace(/[^a-z0-9_]/g, "_")),
        blobStoreUrl: `file://${dir.path}/blobs`,
        logLevel: "error" as const,
        maxAttempts: 1,
        dispatchDeadlineSeconds: 600,
        runGraceSeconds: 600,
        stageDeadlineSeconds: 600,
        maxRedispatches: 0,
        reconcileIntervalMs: 60000,
        eventAckWaitMs: 5000,
        watchPollMs: 100,
        imageTransports: ["oci:"],
        auth: await auth(dir.path),
        ...(options.http1Port !== undefined ? { http1Port: options.http1Port } : {}),
      }),
      { logger: noopLogger, blobs: new FilesystemBlobStore(`${dir.path}/blobs`) },
    );
    stages = await connectEventBus({ servers: nats.url, name: "stand-in-stages", streamName: "VEXXY" });
  } catch (err) {
    await stop();
    throw err;
  }
  const running = orchestrator;
  return {
    orchestrator: running,
    dir,
    stages,
    client(token?: string) {
      const c = createGrpcJsClient(AnalysisService, running.url, token === undefined ? {} : { metadata: { authorization: `Bearer ${token}` } });
      clients.push(c);
      return c;
    },
    stop,
  };
}

/** The gRPC status code and details of a rejected grpc-js call. */
export async function grpcError(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    // grpc-message travels percent-encoded; grpc-js leaves some escapes (%3A) in details.
    const details = e.details ?? String(err);
    let decoded = details;
    try {
      decoded = decodeURIComponent(details);
    } catch {
      // A literal "%" in the message: keep it as sent.
    }
    return { code: e.code ?? -1, details: decoded };
  }
  throw new Error("the call succeeded");
}
