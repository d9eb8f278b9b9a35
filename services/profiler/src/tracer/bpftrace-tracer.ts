/**
 * The local tracer: one bpftrace process per sandbox, filtered by the sandbox's cgroup v2 id.
 * It is started through `setpriv --pdeathsig KILL` so that it dies with the profiler (a
 * profiler that crashes must not leave a tracer whose records nobody will read; the attempt is
 * then reported lost). start() resolves only after bpftrace printed the BEGIN marker, i.e.
 * once every probe is attached.
 */
import { spawn, execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describeExit, hostCgroupOf, type TraceDiagnostics, type TraceResult, type TraceScope, type TraceSession, type Tracer } from "./tracer.js";
import { bpftraceScript, IDENTITY_MAPS, MAPS_DONE, UNTRACED_CHANNELS } from "./bpftrace-script.js";
import { parseIdentityOutput } from "./bpftrace-output.js";
import { TracerAttachError } from "../errors.js";

export interface BpftraceOptions {
  readonly bpftracePath: string;
  /** BPFTRACE_MAP_KEYS_MAX: a map that reaches it marks the trace incomplete. */
  readonly mapKeysMax: number;
  /** How long stop() waits for the maps to be printed. */
  readonly stopTimeoutMs: number;
}

const TRACEFS = "/sys/kernel/tracing";

/** How long bpftrace may take to exit after END printed its maps before it is killed. */
const DETACH_GRACE_MS = 3000;

/** Mounts tracefs when it is not mounted (bpftrace needs it for tracepoints). */
export function ensureTracefs(): void {
  try {
    execFileSync("mountpoint", ["-q", TRACEFS]);
  } catch {
    execFileSync("mount", ["-t", "tracefs", "nodev", TRACEFS]);
  }
}

/**
 * The cgroup v2 level of a directory: how many directories below the cgroup2 mount it is
 * (the mount's root is the one whose parent lies on another device).
 */
export function cgroupLevel(cgroupPath: string): number {
  let level = 0;
  let dir = cgroupPath.replace(/\/+$/, "");
  for (;;) {
    const parent = dirname(dir);
    if (parent === dir || statSync(parent).dev !== statSync(dir).dev) return level;
    level += 1;
    dir = parent;
  }
}

/** The cgroup's path from the v2 root: its last `level` components ("/vexxy/<id>"). */
export function cgroupRelativePath(cgroupPath: string, level: number): string {
  const parts = cgroupPath
    .replace(/\/+$/, "")
    .split("/")
    .filter((p) => p !== "");
  return level === 0 ? "/" : `/${parts.slice(-level).join("/")}`;
}

/** The untraced-channel syscalls this kernel has (one it lacks answers ENOSYS: no channel). */
function availableChannels(): string[] {
  return UNTRACED_CHANNELS.filter((sc) => existsSync(join(TRACEFS, "events/syscalls", `sys_exit_${sc}`)));
}

export class BpftraceTracer implements Tracer {
  readonly name = "bpftrace";
  readonly scopeKinds = ["host_cgroup"] as const;

  constructor(private readonly options: BpftraceOptions) {}

  async start(scope: TraceScope, deadlineMs: number): Promise<TraceSession> {
    const cgroupPath = hostCgroupOf(scope, this.name);
    let cgroupId: bigint;
    let level: number;
    let relativePath: string | undefined;
    try {
      // On cgroup v2 the directory's inode number is the cgroup id the kernel reports.
      cgroupId = statSync(cgroupPath, { bigint: true }).ino;
      level = cgroupLevel(cgroupPath);
      relativePath = level > 0 ? cgroupRelativePath(cgroupPath, level) : undefined;
    } catch (cause) {
      throw new TracerAttachError(`cgroup_path ${cgroupPath} does not exist`, { cause });
    }
    ensureTracefs();
    const dir = mkdtempSync(join(tmpdir(), "vexxy-bt-"));
    const scriptFile = join(dir, "trace.bt");
    writeFileSync(scriptFile, bpftraceScript({ cgroupId, level, ...(relativePath !== undefined ? { relativePath } : {}) }, availableChannels()));
    const began = Date.now();
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", this.options.bpftracePath, "-f", "json", scriptFile], {
      env: { ...process.env, BPFTRACE_STRLEN: "200", BPFTRACE_MAP_KEYS_MAX: String(this.options.mapKeysMax) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: Buffer[] = [];
    let outputBytes = 0;
    let stderr = "";
    let sawAttached = false;
    let exited = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let stopping = false;
    // Whether END's marker went by, checked on each chunk with the previous chunk's tail (a
    // marker split across two chunks), never by re-reading the whole output.
    const marker = Buffer.from(`"${MAPS_DONE}\\n"`);
    let mapsDone = false;
    child.stdout.on("data", (d: Buffer) => {
      const previous = chunks.at(-1);
      const tail = previous !== undefined ? previous.subarray(Math.max(0, previous.length - marker.length)) : Buffer.alloc(0);
      mapsDone ||= Buffer.concat([tail, d]).includes(marker);
      chunks.push(d);
      outputBytes += d.length;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-8000);
    });
    child.on("exit", (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
    });
    // 'close' fires once the process ended AND its stdout and stderr were drained: the maps
    // printed at END are only complete then ('exit' can come first).
    const closed = once(child, "close").then(() => undefined);
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), deadlineMs);
      let seen = "";
      const check = (d: Buffer): void => {
        seen = (seen + d.toString("utf8")).slice(-4096);
        if (seen.includes("ATTACHED")) {
          sawAttached = true;
          clearTimeout(timer);
          child.stdout.off("data", check);
          resolve(true);
        }
      };
      child.stdout.on("data", check);
      void closed.then(() => {
        clearTimeout(timer);
        resolve(sawAttached);
      });
    });
    if (!attached || exited) {
      child.kill("SIGKILL");
      await closed;
      cleanup();
      const why = stderr
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.includes("RLIMIT_MEMLOCK"))
        .slice(-3)
        .join(" | ");
      throw new TracerAttachError(`bpftrace did not attach to ${cgroupPath} within ${deadlineMs} ms${why !== "" ? `: ${why}` : ""}`);
    }
    const attachSeconds = (Date.now() - began) / 1000;
    const startedAt = new Date();
    const options = this.options;
    const session: TraceSession = {
      scope,
      pid: child.pid,
      attachSeconds,
      cgroupId,
      get died() {
        return exited && !stopping;
      },
      async stop(): Promise<TraceResult> {
        const diedBefore = exited;
        stopping = true;
        const stopBegan = Date.now();
        let killedAfterTimeout = false;
        let killedAfterMaps = false;
        if (!exited) {
          child.kill("SIGINT");
          // Done when bpftrace exits, or once END printed every map: the detach that follows can
          // be slow, and nothing it prints afterwards is needed.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              killedAfterTimeout = !mapsDone;
              child.kill("SIGKILL");
              resolve();
            }, options.stopTimeoutMs);
            const onData = (): void => {
              if (!mapsDone) return;
              clearTimeout(timer);
              child.stdout.off("data", onData);
              // A short grace for a clean exit, then the kill (the kernel finishes the detach).
              setTimeout(() => {
                if (!exited) {
                  killedAfterMaps = true;
                  child.kill("SIGKILL");
                }
                resolve();
              }, DETACH_GRACE_MS);
            };
            child.stdout.on("data", onData);
            onData();
            void closed.then(() => {
              clearTimeout(timer);
              resolve();
            });
          });
        }
        const stopSeconds = (Date.now() - stopBegan) / 1000;
        cleanup();
        let containerCgroupId = 0n;
        try {
          containerCgroupId = statSync(cgroupPath, { bigint: true }).ino;
        } catch {
          // the cgroup is gone (the sandbox was torn down first): reported as 0
        }
        const all = Buffer.concat(chunks).toString("utf8");
        // Everything up to END's marker line; what bpftrace prints after it repeats the maps.
        const markerAt = all.indexOf(marker.toString("utf8"));
        const stdout = markerAt < 0 ? all : all.slice(0, all.indexOf("\n", markerAt) + 1);
        const parsed = parseIdentityOutput(stdout, startedAt.getTime());
        const stderrTail = stderr
          .split("\n")
          .filter((l) => l.trim() !== "" && !l.includes("RLIMIT_MEMLOCK"))
          .slice(-5)
          .join("\n");
        const diagnostics: TraceDiagnostics = {
          exit: killedAfterMaps ? `killed after printing its maps (detach took over ${DETACH_GRACE_MS} ms)` : describeExit(exitCode, exitSignal),
          stderrTail,
          attachSeconds,
          stopSeconds,
          filteredCgroupId: cgroupId,
          containerCgroupId,
          outputBytes,
        };
        const context = `bpftrace ${diagnostics.exit}, attach ${attachSeconds.toFixed(2)} s, stop ${stopSeconds.toFixed(2)} s, ${outputBytes} bytes of output, cgroup id ${cgroupId} (container's now ${containerCgroupId})${stderrTail !== "" ? `, stderr: ${stderrTail.replace(/\n/g, " | ").slice(-400)}` : ""}`;
        const lossReasons: string[] = [];
        if (diedBefore) lossReasons.push(`tracer_died: ${context}`);
        else if (killedAfterTimeout) lossReasons.push(`tracer_stop_timeout: no maps within ${options.stopTimeoutMs} ms; ${context}`);
        if (markerAt < 0 && !diedBefore && !killedAfterTimeout) lossReasons.push(`maps_not_printed: ${context}`);
        if (containerCgroupId !== 0n && containerCgroupId !== cgroupId)
          lossReasons.push(`cgroup_replaced: filtered on ${cgroupId}, the container's cgroup is now ${containerCgroupId}`);
        for (const name of IDENTITY_MAPS) {
          const keys = parsed.mapKeys.get(name) ?? 0;
          if (keys >= options.mapKeysMax) lossReasons.push(`map_full:${name} (${keys} keys, capacity ${options.mapKeysMax})`);
        }
        if (parsed.lostLines.length > 0) lossReasons.push(`events_lost: ${parsed.lostLines.slice(0, 3).join(" | ").slice(0, 400)}`);
        if (parsed.unparseableLines > 0) lossReasons.push(`output_unparseable: ${parsed.unparseableLines} line(s) of bpftrace output were not JSON`);
        if (parsed.leftScope > 0)
          lossReasons.push(`scope_left: ${parsed.leftScope} task move(s) out of the sandbox's cgroup subtree; those tasks were no longer traced`);
        if (parsed.tooDeep > 0) lossReasons.push(`scope_too_deep: ${parsed.tooDeep} event(s) of tasks nested too deep below a cgroup to place`);
        for (const attempt of parsed.channelAttempts) {
          if (attempt.succeeded > 0) lossReasons.push(`untraced_channel:${attempt.syscall} (${attempt.succeeded} successful call(s))`);
        }
        return {
          tracer: "bpftrace",
          opens: [],
          execs: [],
          identity: "inode",
          uses: parsed.uses,
          channelAttempts: parsed.channelAttempts,
          diagnostics,
          lossReasons,
          startedAt,
          stoppedAt: new Date(),
          cgroupId,
        };
      },
      async discard(): Promise<void> {
        stopping = true;
        child.kill("SIGKILL");
        await closed;
        cleanup();
      },
    };
    return session;
  }
}
