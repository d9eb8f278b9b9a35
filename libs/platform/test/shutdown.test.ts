import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ShutdownManager, noopLogger } from "@vexxy/platform";

const CHILD = fileURLToPath(new URL("./fixtures/shutdown-child.ts", import.meta.url));

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
}

async function runChildAndSignal(signal: NodeJS.Signals, args: string[] = []): Promise<ChildResult> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["ignore", "pipe", "ignore"] });
  let stdout = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready: ${stdout}`)), 30000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("ready\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill(signal);
  return { code: await exited, stdout };
}

describe("shutdown", () => {
  it("runs closers in reverse registration order on SIGTERM and exits 0", async () => {
    const { code, stdout } = await runChildAndSignal("SIGTERM");
    assert.equal(code, 0);
    assert.deepEqual(stdout.trim().split("\n"), ["ready", "closed third", "closed second", "closed first"]);
  });

  it("still runs the remaining closers after one fails on SIGINT, and exits 1", async () => {
    const { code, stdout } = await runChildAndSignal("SIGINT", ["--fail-second"]);
    assert.equal(code, 1);
    assert.deepEqual(stdout.trim().split("\n"), ["ready", "closed third", "closed second", "closed first"]);
  });

  it("gives up on a closer that outlives the deadline and reports exit code 1", async () => {
    const manager = new ShutdownManager(noopLogger, { timeoutMs: 100, installSignalHandlers: false });
    const ran: string[] = [];
    manager.register("late", () => {
      ran.push("late");
    });
    manager.register("stuck", () => new Promise<void>(() => undefined));
    const started = Date.now();
    assert.equal(await manager.run("test"), 1);
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(ran, [], "the deadline passed before the next closer");
    assert.equal(await manager.run("again"), 1, "a second run returns the first result");
  });
});
