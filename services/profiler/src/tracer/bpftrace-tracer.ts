/**
 * The local tracer: one bpftrace process per sandbox, filtered by the sandbox's cgroup v2 id.
 * It is started through `setpriv --pdeathsig KILL` so that it dies with the profiler (a
 * profiler that crashes must not leave a tracer whose records nobody will read; the attempt is
 * then reported lost). start() resolves only after bpftrace printed the BEGIN marker, i.e.
 * once every probe is attached.
 */
import { spawn, execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TraceResult, TraceScope, TraceSession, Tracer } from "./tracer.js";
import { bpftraceScript, COUNT_MAPS } from "./bpftrace-script.js";
import { mapKeyCount, parseBpftraceOutput } from "./bpftrace-output.js";
import { TracerAttachError } from "../errors.js";

export interface BpftraceOptions {
  readonly bpftracePath: string;
  /** BPFTRACE_MAP_KEYS_MAX: a map that reaches it marks the trace incomplete. */
  readonly mapKeysMax: number;
  /** How long stop() waits for the maps to be printed. */
  readonly stopTimeoutMs: number;
}

/** Mounts tracefs when it is not mounted (bpftrace needs it for tracepoints). */
export function ensureTracefs(): void {
  try {
    execFileSync("mountpoint", ["-q", "/sys/kernel/tracing"]);
  } catch {
    execFileSync("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"]);
  }
}

export class BpftraceTracer implements Tracer {
  readonly name = "bpftrace";

  constructor(private readonly options: BpftraceOptions) {}

  async start(scope: TraceScope, deadlineMs: number): Promise<TraceSession> {
    let cgroupId: bigint;
    try {
      // On cgroup v2 the directory's inode number is the cgroup id the kernel reports.
      cgroupId = statSync(scope.cgroupPath, { bigint: true }).ino;
    } catch (cause) {
      throw new TracerAttachError(`cgroup_path ${scope.cgroupPath} does not exist`, { cause });
    }
    ensureTracefs();
    const dir = mkdtempSync(join(tmpdir(), "vexxy-bt-"));
    const scriptFile = join(dir, "trace.bt");
    writeFileSync(scriptFile, bpftraceScript(scope.cgroupPath));
    const began = Date.now();
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", this.options.bpftracePath, "-f", "json", scriptFile], {
      env: { ...process.env, BPFTRACE_STRLEN: "200", BPFTRACE_MAP_KEYS_MAX: String(this.options.mapKeysMax) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let exited = false;
    let stopping = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-8000);
    });
    const exit = once(child, "exit").then(() => {
      exited = true;
    });
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), deadlineMs);
      const check = (): void => {
        if (stdout.includes("ATTACHED")) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout.on("data", check);
      void exit.then(() => {
        clearTimeout(timer);
        resolve(stdout.includes("ATTACHED"));
      });
    });
    if (!attached || exited) {
      child.kill("SIGKILL");
      await exit;
      cleanup();
      const why = stderr.split("\n").filter((l) => l.trim() !== "" && !l.includes("RLIMIT_MEMLOCK")).slice(-3).join(" | ");
      throw new TracerAttachError(`bpftrace did not attach to ${scope.cgroupPath} within ${deadlineMs} ms${why !== "" ? `: ${why}` : ""}`);
    }
    const attachSeconds = (Date.now() - began) / 1000;
    const startedAt = new Date();
    const options = this.options;
    const session: TraceSession = {
      scope,
      attachSeconds,
      cgroupId,
      get died() {
        return exited && !stopping;
      },
      async stop(): Promise<TraceResult> {
        const diedBefore = exited;
        stopping = true;
        if (!exited) {
          child.kill("SIGINT");
          const timer = setTimeout(() => child.kill("SIGKILL"), options.stopTimeoutMs);
          await exit;
          clearTimeout(timer);
        }
        cleanup();
        const parsed = parseBpftraceOutput(stdout);
        const lossReasons: string[] = [];
        if (diedBefore) lossReasons.push("tracer_died");
        if (!parsed.maps.has("@exec") && !diedBefore) lossReasons.push("maps_not_printed");
        for (const name of COUNT_MAPS) {
          if (mapKeyCount(stdout, name) >= options.mapKeysMax) lossReasons.push(`map_full:${name}`);
        }
        if (parsed.lostLines.length > 0) lossReasons.push("events_lost");
        const execs = [...(parsed.maps.get("@exec") ?? [])];
        // execve attempts that failed are kept as failed execs; successful ones are already
        // counted by sched_process_exec (which names the file the kernel really ran).
        for (const e of parsed.maps.get("@execve") ?? []) {
          if (e.ok === 0 && !execs.some((x) => x.path === e.path)) execs.push({ path: e.path, ok: 0, failed: e.failed });
        }
        return { tracer: "bpftrace", opens: parsed.maps.get("@open") ?? [], execs, lossReasons, startedAt, stoppedAt: new Date(), cgroupId };
      },
      async discard(): Promise<void> {
        stopping = true;
        child.kill("SIGKILL");
        await exit;
        cleanup();
      },
    };
    return session;
  }
}
