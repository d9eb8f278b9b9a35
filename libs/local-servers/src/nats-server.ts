/**
 * nats-server (Debian package, 2.9.x) with JetStream, on a free loopback port with its store in
 * a temp dir (or a given dir), for tests and the embedded stack.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect as tcpConnect } from "node:net";
import { mkdir, rm } from "node:fs/promises";
import { freePort } from "./ports.js";
import { tempDir } from "./temp-dir.js";

/** A running nats-server. */
export interface NatsServer {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (-sd). */
  readonly storeDir: string;
  /**
   * SIGTERM, wait for exit (SIGKILL after 10 s), and remove the store dir when it was a temp dir
   * this function created (a given storeDir is kept).
   */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for exit; the store dir stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Stops it (SIGTERM) when running and starts it again on the same port and store dir.
   * @throws NatsServerStartError when it does not come back.
   */
  restart(): Promise<void>;
}

/** nats-server could not be started or did not become ready. */
export class NatsServerStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NatsServerStartError";
  }
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 10_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

// A test process that dies must not leave servers behind holding ports and temp dirs.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

async function acceptsConnections(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts `nats-server -js -sd DIR -p PORT -a 127.0.0.1` and resolves once it logged
 * "Server is ready" (or, failing that, accepts TCP connections).
 * @throws NatsServerStartError when nats-server is not installed, exits, or is not ready within 10 s.
 */
export async function startNatsServer(options: { port?: number; storeDir?: string } = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const temp = options.storeDir === undefined ? await tempDir("nats") : undefined;
  const storeDir = options.storeDir ?? temp!.path;
  await mkdir(storeDir, { recursive: true });
  installExitHook();
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    let stderr = "";
    let ready = false;
    const c = spawn("nats-server", ["-js", "-sd", storeDir, "-p", String(port), "-a", "127.0.0.1"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = c;
    running.add(c);
    c.once("exit", () => running.delete(c));
    let spawnError: Error | undefined;
    c.once("error", (err) => {
      spawnError = err;
    });
    c.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-8000);
      if (!ready && stderr.includes("Server is ready")) ready = true;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError !== undefined) {
        running.delete(c);
        throw new NatsServerStartError(`nats-server could not start (is the Debian package installed?): ${spawnError.message}`, { cause: spawnError });
      }
      if (hasExited(c)) throw new NatsServerStartError(`nats-server exited with ${c.exitCode ?? c.signalCode}: ${stderr}`);
      // The log line is the reliable signal; a bare TCP accept is the fallback in case a
      // packaged build logs differently, but only after the log had a fair chance.
      if (ready) return;
      if (Date.now() > deadline - READY_TIMEOUT_MS / 2 && (await acceptsConnections(port))) return;
      if (Date.now() > deadline) {
        c.kill("SIGKILL");
        throw new NatsServerStartError(`nats-server was not ready on port ${port} within ${READY_TIMEOUT_MS} ms: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const signalAndWait = async (signal: NodeJS.Signals, graceMs?: number): Promise<void> => {
    const c = child;
    if (c === undefined || hasExited(c)) return;
    const exited = once(c, "exit");
    c.kill(signal);
    if (graceMs === undefined) {
      await exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), graceMs)));
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      c.kill("SIGKILL");
      await exited;
    }
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await signalAndWait("SIGTERM", STOP_GRACE_MS);
      if (temp !== undefined) await rm(storeDir, { recursive: true, force: true });
    },
    kill: (signal = "SIGKILL") => signalAndWait(signal),
    async restart() {
      await signalAndWait("SIGTERM", STOP_GRACE_MS);
      await launch();
    },
  };
}
