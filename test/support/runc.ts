/** What runc says is live on this machine (for leak and teardown checks). */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Ids of live runc containers whose id starts with prefix. */
export async function liveContainers(prefix = "vexxy-"): Promise<string[]> {
  const { stdout } = await run("runc", ["list", "-q"]);
  return stdout
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s.startsWith(prefix));
}

/** Polls until no container with prefix is live; returns what is still live at the deadline. */
export async function waitForNoContainers(prefix: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let live = await liveContainers(prefix);
  while (live.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    live = await liveContainers(prefix);
  }
  return live;
}
