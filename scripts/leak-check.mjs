// Mocha root hooks that replace `--exit`: after the last test, every server, socket, child
// process, file handle and timer a test opened must be closed. The check polls the process's
// active resources (`process.getActiveResourcesInfo()`, which lists only handles that keep
// the event loop alive) for a grace period, since closes complete asynchronously; what is
// still open fails the run as a failed "after all" hook, with the resource types named.
// Timers are ambiguous while a hook runs (mocha's own hook timeout is one), so they are
// caught afterwards: a process still alive 10 s after the last test exits 1 and prints a
// corrected closing line.
const GRACE_MS = 15000;
const AFTER_MS = 10000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What keeps the event loop alive, other than timers and the process's own stdio, counted by
 * a description. `process._getActiveHandles()` (undocumented, present through Node 22) gives
 * the objects, so the test's stdout pipe can be told apart from a leaked socket and a leak
 * can be described (address, port, child's command); without it, resource types only.
 */
function openHandles() {
  const counts = new Map();
  const add = (what) => counts.set(what, (counts.get(what) ?? 0) + 1);
  if (typeof process._getActiveHandles !== "function") {
    for (const type of process.getActiveResourcesInfo()) if (type !== "Timeout" && type !== "Immediate") add(type);
    return counts;
  }
  const stdio = new Set([process.stdin, process.stdout, process.stderr]);
  for (const h of process._getActiveHandles()) {
    if (stdio.has(h)) continue;
    const name = h?.constructor?.name ?? typeof h;
    if (name === "Timeout" || name === "Immediate") continue;
    if (typeof h.spawnfile === "string") add(`child process ${h.spawnfile} (pid ${h.pid})`);
    else if (typeof h.address === "function" && typeof h.listen === "function") add(`${name} listening on ${JSON.stringify(h.address())}`);
    else if (h.remotePort !== undefined) add(`${name} to ${h.remoteAddress}:${h.remotePort}`);
    else add(name);
  }
  return counts;
}

function describe(counts) {
  return [...counts].map(([what, n]) => (n > 1 ? `${n}x ${what}` : what)).join(", ");
}

export const mochaHooks = {
  async afterAll() {
    this.timeout(GRACE_MS + 5000);
    const deadline = Date.now() + GRACE_MS;
    let open = openHandles();
    while (open.size > 0 && Date.now() < deadline) {
      await sleep(250);
      open = openHandles();
    }
    // Whatever still runs once mocha is done (the leak below, or a timer) must not hang CI.
    setTimeout(() => {
      const left = describe(openHandles()) || "a timer or interval";
      process.stdout.write(`\nleak: the test process was still running ${AFTER_MS / 1000} s after the last test (${left})\n`);
      const s = globalThis.__vexxySummary ?? { passes: 0, failures: 0, pending: 0 };
      process.stdout.write(`${s.passes} passed, ${s.failures + (open.size > 0 ? 0 : 1)} failed, ${s.pending} skipped\n`);
      // mocha's own exit listener sets the exit code to its failure count: ours runs after it.
      process.on("exit", () => {
        process.exitCode = 1;
      });
      process.exit(1);
    }, AFTER_MS).unref();
    if (open.size > 0) {
      throw new Error(
        `leaked handles after the last test: ${describe(open)} (a test left a server, socket, child process or file open; run its file alone to find it)`,
      );
    }
  },
};
