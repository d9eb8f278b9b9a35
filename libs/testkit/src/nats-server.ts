/**
 * nats-server (Debian package) with JetStream, on a free loopback port with its store in a
 * temp dir (or a given dir), for tests and the embedded stack.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect as tcpConnect } from "node:net";
import { mkdir, rm } from "node:fs/promises";
import { freePort } from "./ports.js";
import { tempDir } from "./temp-dir.js";

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** SIGTERM, wait for exit, remove a temp store dir. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for exit; the store dir stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store dir. */
  restart(): Promise<void>;
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

/**
 * Starts nats-server -js.
 * @throws when nats-server is not installed or does not accept connections within 10 s.
 */
export async function startNatsServer(options: { port?: number; storeDir?: string } = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort());
  const temp = options.storeDir === undefined ? await tempDir("nats") : undefined;
  const storeDir = options.storeDir ?? temp!.path;
  await mkdir(storeDir, { recursive: true });
  let child: ChildProcess | undefined;
  let stderr = "";
  const launch = async (): Promise<void> => {
    stderr = "";
    child = spawn("nats-server", ["-js", "-sd", storeDir, "-p", String(port), "-a", "127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-4000);
    });
    const spawned = child;
    const failed = new Promise<never>((_, reject) => {
      spawned.once("error", (err) => reject(new Error(`nats-server could not start (is the Debian package installed?): ${err.message}`)));
    });
    const deadline = Date.now() + 10000;
    for (;;) {
      if (await Promise.race([acceptsConnections(port), failed])) {
        if (/Server is ready/.test(stderr) || Date.now() > deadline - 9000) return;
      }
      if (spawned.exitCode !== null) throw new Error(`nats-server exited with ${spawned.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not accept connections on ${port} within 10 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, "exit");
    c.kill(signal);
    await exited;
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await waitExit("SIGTERM");
      if (temp !== undefined) await rm(storeDir, { recursive: true, force: true });
    },
    kill: (signal = "SIGKILL") => waitExit(signal),
    async restart() {
      await waitExit("SIGTERM");
      await launch();
    },
  };
}
