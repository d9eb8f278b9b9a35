/**
 * The ptrace tracer, for hosts without eBPF: one strace per sandbox, attached (`-p`, following
 * forks with `-f`) to every process of the sandbox's cgroup while the sandbox holds its init
 * before exec (StartTrace comes between `runc create` and `runc start`), so the workload's first
 * instruction is already traced. Nothing before the first exec is recorded (runc init's own
 * opens). strace runs under `setpriv --pdeathsig KILL` and dies with the profiler.
 *
 * Identity: ptrace sees paths, not inodes. `-y` makes strace print the path the kernel resolved
 * for every fd (open results, mmap's fd), relative to the workload's own root; an exec's path is
 * resolved here inside that root (symlinks, "#!" interpreters, /proc/self/exe). Each path is
 * stat()ed through an fd on /proc/<init>/root (ProcRootView) as its line arrives, giving the
 * same (device, inode) the catalogue and bpftrace use, so the trace is an "inode" trace.
 *
 * Fail closed: a use whose file cannot be identified (gone, a memfd, a relative exec without a
 * known cwd, a truncated path) is kept without identity and marks the trace incomplete
 * (`unattributed_use:`); so do the untraced channels' successes, files renamed or removed on a
 * writable root (`identity_unstable:`), a process of the cgroup strace never saw
 * (`untraced_process:`), unparseable output, and a strace that died or had to be killed.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, statSync } from "node:fs";
import {
  describeExit,
  hostCgroupOf,
  type ChannelAttempt,
  type TraceDiagnostics,
  type TracedUse,
  type TraceResult,
  type TraceScope,
  type TraceSession,
  type Tracer,
  type UseAccess,
} from "./tracer.js";
import { UNTRACED_CHANNELS } from "./bpftrace-script.js";
import { fdPath, firstStringArg, splitArgs, StraceLineParser, type StraceSyscall } from "./strace-output.js";
import { ProcRootView, type KernelIdentity } from "./proc-root-view.js";
import { TracerAttachError } from "../errors.js";

export interface StraceOptions {
  readonly stracePath: string;
  /** How long stop() waits for strace to detach and exit before it is killed. */
  readonly stopTimeoutMs: number;
}

const OPENS = ["open", "openat", "openat2", "creat"];
const EXECS = ["execve", "execveat"];
const FORKS = ["clone", "clone3", "fork", "vfork"];
const MUTATIONS = ["rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir"];
const CHANNELS: readonly string[] = UNTRACED_CHANNELS;
/** Every syscall strace stops on ("?": a name this architecture lacks is not an error). */
const TRACED = [...OPENS, ...EXECS, "mmap", "close", ...FORKS, "chdir", "fchdir", ...MUTATIONS, ...CHANNELS].map((s) => `?${s}`).join(",");

/** "#!" interpreters followed for one exec (the kernel's BINPRM_MAX_RECURSION). */
const MAX_INTERPRETERS = 4;
/** How often the sandbox's cgroup is checked for processes that joined it untraced. */
const WATCH_INTERVAL_MS = 20;
/** Unattributed uses named in the loss reason (the rest are counted). */
const NAMED_UNATTRIBUTED = 5;

interface MutableUse {
  access: UseAccess;
  dev: number;
  inode: bigint;
  label: string;
  count: number;
  firstSeenNs: bigint;
  firstPid: number;
}

/** The pids of a cgroup (empty when it is gone). */
function cgroupPids(cgroupPath: string): number[] {
  try {
    return readFileSync(`${cgroupPath}/cgroup.procs`, "utf8")
      .split("\n")
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

/** Folds strace's records into uses by identity, and keeps every reason the record may be incomplete. */
export class StraceTraceState {
  private started = false;
  private readonly uses = new Map<string, MutableUse>();
  private readonly unattributed: string[] = [];
  private readonly channels = new Map<string, { succeeded: number; failed: number }>();
  private readonly cwd = new Map<number, string>();
  private readonly exe = new Map<number, { id: KernelIdentity; label: string }>();
  private readonly children = new Map<number, number[]>();
  private readonly deferredSelfExecs = new Map<number, StraceSyscall[]>();
  private readonly openedPaths = new Set<string>();
  readonly seen = new Set<number>();
  mutations = 0;
  unparsed = 0;
  /** The first lines that were not understood (diagnostics). */
  readonly unparsedSample: string[] = [];

  constructor(
    private readonly view: ProcRootView,
    private readonly initialPids: ReadonlySet<number>,
  ) {}

  private add(access: UseAccess, id: KernelIdentity | undefined, label: string, call: StraceSyscall): void {
    if (id === undefined) this.unattributed.push(`${access} of ${label === "" ? "(unknown file)" : label}`);
    const key = id !== undefined ? `${access}:${id.dev}:${id.inode}` : `${access}:0:0:${label}`;
    const use = this.uses.get(key);
    if (use !== undefined) {
      use.count += 1;
      return;
    }
    this.uses.set(key, { access, dev: id?.dev ?? 0, inode: id?.inode ?? 0n, label, count: 1, firstSeenNs: call.timeNs, firstPid: call.pid });
  }

  private setExe(pid: number, value: { id: KernelIdentity; label: string }): void {
    this.exe.set(pid, value);
    for (const call of this.deferredSelfExecs.get(pid) ?? []) this.add("exec", value.id, value.label, call);
    this.deferredSelfExecs.delete(pid);
    for (const child of this.children.get(pid) ?? []) if (!this.exe.has(child)) this.setExe(child, value);
  }

  /** Records an exec of `path` (as execve named it): the script chain, then the binary the kernel ran. */
  private exec(call: StraceSyscall, path: string, cwd: string | undefined): void {
    // /proc/self/exe (busybox and others re-exec themselves): the same file the task runs now;
    // its exe may only be known once the parent's fork returns, so such execs can wait for it.
    if (/^\/proc\/self\/exe$/.test(path)) {
      const current = this.exe.get(call.pid);
      if (current !== undefined) this.add("exec", current.id, current.label, call);
      else this.deferredSelfExecs.set(call.pid, [...(this.deferredSelfExecs.get(call.pid) ?? []), call]);
      return;
    }
    if (path.startsWith("/proc/") || path.startsWith("/dev/fd/")) {
      this.add("exec", undefined, path, call);
      return;
    }
    let resolved = this.view.resolve(path, cwd);
    for (let depth = 0; resolved !== undefined && depth <= MAX_INTERPRETERS; depth++) {
      const id = this.view.identity(resolved);
      const head = id !== undefined ? this.view.head(resolved, 256) : undefined;
      if (id === undefined || head === undefined || head.subarray(0, 2).toString("latin1") !== "#!") {
        this.add("exec", id, resolved, call);
        if (id !== undefined) this.setExe(call.pid, { id, label: resolved });
        return;
      }
      this.add("exec_script", id, resolved, call);
      const interpreter =
        head
          .subarray(2)
          .toString("utf8")
          .split("\n")[0]
          ?.trim()
          .split(/[ \t]+/)[0] ?? "";
      resolved = interpreter === "" ? undefined : this.view.resolve(interpreter, undefined);
    }
    this.add("exec", undefined, path, call);
  }

  /** Folds one finished syscall in. */
  onSyscall(call: StraceSyscall): void {
    this.seen.add(call.pid);
    const ok = call.ret !== undefined && call.ret >= 0n;
    if (!this.started) {
      // Before the workload's first exec the traced task is the sandbox's own init.
      if (!(EXECS.includes(call.name) && ok && this.initialPids.has(call.pid))) return;
      this.started = true;
    }
    const at = /AT_FDCWD<((?:\\x[0-9a-f]{2})+)>/.exec(call.args);
    if (at !== null) {
      const cwd = fdPath(`AT_FDCWD<${at[1]}>`);
      if (cwd !== undefined) this.cwd.set(call.pid, cwd);
    }
    if (CHANNELS.includes(call.name)) {
      const entry = this.channels.get(call.name) ?? { succeeded: 0, failed: 0 };
      if (ok) entry.succeeded += 1;
      else entry.failed += 1;
      this.channels.set(call.name, entry);
      return;
    }
    if (!ok) return;
    if (OPENS.includes(call.name)) {
      const path = call.retPath;
      if (path !== undefined) this.openedPaths.add(path);
      this.add("open", path !== undefined ? this.view.identity(path) : undefined, path ?? `(fd ${call.ret} of ${call.name})`, call);
    } else if (call.name === "close") {
      // An fd the workload got without a traced open (inherited through exec, passed over a
      // socket) still reaches a file: its close names it.
      const path = fdPath(call.args);
      // Sockets, pipes and anonymous inodes ("socket:[N]") are no file of any image.
      if (path?.startsWith("/") === true && !this.openedPaths.has(path)) {
        this.openedPaths.add(path);
        this.add("open", this.view.identity(path), path, call);
      }
    } else if (call.name === "mmap") {
      const args = splitArgs(call.args);
      if (!(args[2] ?? "").includes("PROT_EXEC") || (args[3] ?? "").includes("MAP_ANONYMOUS")) return;
      const path = fdPath(args[4] ?? "");
      this.add("mmap_exec", path !== undefined ? this.view.identity(path) : undefined, path ?? `(fd ${args[4] ?? "?"})`, call);
    } else if (EXECS.includes(call.name)) {
      if (call.argsLost) {
        this.add("exec", undefined, "(an exec whose arguments strace did not print)", call);
        return;
      }
      const cwd = this.cwd.get(call.pid);
      if (call.name === "execve") {
        const path = firstStringArg(call.args);
        if (path === undefined || path.truncated) this.add("exec", undefined, path?.value ?? "(unreadable path)", call);
        else this.exec(call, path.value, cwd);
        return;
      }
      const args = splitArgs(call.args);
      const dir = fdPath(args[0] ?? "");
      const name = firstStringArg(args[1] ?? "");
      if (name === undefined || name.truncated) this.add("exec", undefined, "(unreadable path)", call);
      else if (name.value === "" && (args[4] ?? "").includes("AT_EMPTY_PATH")) {
        if (dir === undefined) this.add("exec", undefined, `(fd ${args[0] ?? "?"})`, call);
        else this.exec(call, dir, undefined);
      } else this.exec(call, name.value, name.value.startsWith("/") ? undefined : dir);
    } else if (FORKS.includes(call.name) && call.ret !== undefined && call.ret > 0n) {
      const child = Number(call.ret);
      this.children.set(call.pid, [...(this.children.get(call.pid) ?? []), child]);
      const cwd = this.cwd.get(call.pid);
      if (cwd !== undefined && !this.cwd.has(child)) this.cwd.set(child, cwd);
      const exe = this.exe.get(call.pid);
      if (exe !== undefined && !this.exe.has(child)) this.setExe(child, exe);
    } else if (call.name === "fchdir") {
      const dir = fdPath(call.args);
      if (dir !== undefined) this.cwd.set(call.pid, dir);
      else this.cwd.delete(call.pid);
    } else if (call.name === "chdir") {
      const dir = firstStringArg(call.args);
      const resolved = dir !== undefined && !dir.truncated ? this.view.resolve(dir.value, this.cwd.get(call.pid)) : undefined;
      if (resolved !== undefined) this.cwd.set(call.pid, resolved);
      else this.cwd.delete(call.pid);
    } else if (MUTATIONS.includes(call.name)) {
      this.mutations += 1;
    }
  }

  /** The uses, the channel attempts and the loss reasons of what was folded in. */
  finish(): { uses: TracedUse[]; channelAttempts: ChannelAttempt[]; lossReasons: string[] } {
    for (const [pid, calls] of this.deferredSelfExecs) {
      for (const call of calls) this.add("exec", undefined, `/proc/self/exe of pid ${pid} (its program is unknown)`, call);
    }
    this.deferredSelfExecs.clear();
    const lossReasons: string[] = [];
    if (this.unattributed.length > 0) {
      const named = this.unattributed.slice(0, NAMED_UNATTRIBUTED).join(", ");
      const more = this.unattributed.length > NAMED_UNATTRIBUTED ? ` and ${this.unattributed.length - NAMED_UNATTRIBUTED} more` : "";
      lossReasons.push(`unattributed_use: ${this.unattributed.length} use(s) whose file could not be identified: ${named}${more}`);
    }
    if (this.mutations > 0 && this.view.rootWritable)
      lossReasons.push(`identity_unstable: ${this.mutations} rename/unlink call(s) on a writable root; identities read after a use may name another file`);
    const channelAttempts = [...this.channels].map(([syscall, c]) => ({ syscall, ...c })).sort((a, b) => a.syscall.localeCompare(b.syscall));
    for (const attempt of channelAttempts) {
      if (attempt.succeeded > 0) lossReasons.push(`untraced_channel:${attempt.syscall} (${attempt.succeeded} successful call(s))`);
    }
    if (this.unparsed > 0)
      lossReasons.push(`output_unparseable: ${this.unparsed} line(s) of strace output were not understood: ${this.unparsedSample.join(" | ").slice(0, 400)}`);
    const uses = [...this.uses.values()].map((u) => ({ ...u }));
    return { uses, channelAttempts, lossReasons };
  }
}

export class StraceTracer implements Tracer {
  readonly name = "strace";
  readonly scopeKinds = ["host_cgroup"] as const;

  constructor(private readonly options: StraceOptions) {}

  async start(scope: TraceScope, deadlineMs: number): Promise<TraceSession> {
    const cgroupPath = hostCgroupOf(scope, this.name);
    let cgroupId: bigint;
    let view: ProcRootView;
    const pids = cgroupPids(cgroupPath);
    try {
      cgroupId = statSync(cgroupPath, { bigint: true }).ino;
      if (pids.length === 0) throw new Error("the cgroup has no process");
      view = ProcRootView.open(pids[0] ?? 0);
    } catch (cause) {
      throw new TracerAttachError(`no process to trace in ${cgroupPath}`, { cause });
    }
    const began = Date.now();
    // -o makes strace prefix every line with its pid; "|cat" because Node's stdout pipe is a
    // socket, which strace cannot open by name (/dev/stdout: ENXIO).
    const args = [
      "-f",
      "-ttt",
      "-y",
      "-xx",
      "-s",
      "4096",
      "-e",
      `trace=${TRACED}`,
      "-e",
      "signal=none",
      "-o",
      "|cat",
      ...pids.flatMap((p) => ["-p", String(p)]),
    ];
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", this.options.stracePath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const state = new StraceTraceState(view, new Set(pids));
    const parser = new StraceLineParser();
    let partial = "";
    let outputBytes = 0;
    let stderr = "";
    let exited = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let stopping = false;
    const onLine = (line: string): void => {
      const record = parser.push(line);
      if (record?.kind === "syscall") state.onSyscall(record);
      else if (record?.kind === "end") state.seen.add(record.pid);
      else if (record?.kind === "unparsed") {
        state.unparsed += 1;
        if (state.unparsedSample.length < 3) state.unparsedSample.push(record.line.slice(0, 200));
      }
    };
    child.stdout.on("data", (d: Buffer) => {
      outputBytes += d.length;
      const lines = (partial + d.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    });
    const attachedPids = new Set<number>();
    child.stderr.on("data", (d: Buffer) => {
      const text = d.toString("utf8");
      for (const m of text.matchAll(/Process (\d+) attached/g)) attachedPids.add(Number(m[1]));
      stderr = (stderr + text).slice(-8000);
    });
    child.on("exit", (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
    });
    const closed = once(child, "close").then(() => undefined);
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), deadlineMs);
      const check = (): void => {
        if (pids.every((p) => attachedPids.has(p))) {
          clearTimeout(timer);
          child.stderr.off("data", check);
          resolve(true);
        }
      };
      child.stderr.on("data", check);
      void closed.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    const stderrTail = (): string =>
      stderr
        .split("\n")
        .filter((l) => l.trim() !== "" && !/Process \d+ (attached|detached)/.test(l))
        .slice(-5)
        .join("\n");
    if (!attached || exited) {
      child.kill("SIGKILL");
      await closed;
      view.close();
      const why = stderrTail().replace(/\n/g, " | ");
      throw new TracerAttachError(`strace did not attach to ${cgroupPath} within ${deadlineMs} ms${why !== "" ? `: ${why}` : ""}`);
    }
    const attachSeconds = (Date.now() - began) / 1000;
    const startedAt = new Date();
    // A process that joined the cgroup between the read and the attach is not traced.
    const missedAtAttach = cgroupPids(cgroupPath).filter((p) => !pids.includes(p));
    // ptrace follows forks, not the cgroup: a process that joins it from outside (`runc exec` of
    // a test_script) is not traced. The cgroup is watched; a newcomer whose tracer is not this
    // strace (the kernel sets TracerPid on a traced task's child before it runs) makes the
    // trace incomplete, and so does one that was gone before it could be checked, unless strace
    // reported it.
    const checked = new Set(pids);
    const joinedUntraced = new Set<number>();
    const vanished = new Set<number>();
    const tracerPid = child.pid;
    const watch = setInterval(() => {
      for (const pid of cgroupPids(cgroupPath)) {
        if (checked.has(pid)) continue;
        checked.add(pid);
        let status: string;
        try {
          status = readFileSync(`/proc/${pid}/status`, "utf8");
        } catch {
          vanished.add(pid);
          continue;
        }
        const traced = /^TracerPid:\s*(\d+)$/m.exec(status)?.[1];
        if (traced === undefined || Number(traced) !== tracerPid) joinedUntraced.add(pid);
      }
    }, WATCH_INTERVAL_MS);
    watch.unref();
    const options = this.options;
    const abnormal = (): boolean => exited && (exitSignal !== null || exitCode !== 0);
    const session: TraceSession = {
      scope,
      pid: child.pid,
      attachSeconds,
      cgroupId,
      get died() {
        return abnormal() && !stopping;
      },
      async stop(): Promise<TraceResult> {
        const diedBefore = abnormal();
        stopping = true;
        const stopBegan = Date.now();
        let killedAfterTimeout = false;
        if (!exited) {
          // SIGINT: strace detaches from every task and exits (the workload, if any, runs on).
          child.kill("SIGINT");
          const timer = setTimeout(() => {
            killedAfterTimeout = true;
            child.kill("SIGKILL");
          }, options.stopTimeoutMs);
          await closed;
          clearTimeout(timer);
        } else {
          await closed;
        }
        if (partial !== "") onLine(partial);
        partial = "";
        const stopSeconds = (Date.now() - stopBegan) / 1000;
        clearInterval(watch);
        const stillThere = cgroupPids(cgroupPath).filter((p) => !state.seen.has(p) && !checked.has(p));
        const unchecked = [...vanished].filter((p) => !state.seen.has(p));
        let containerCgroupId = 0n;
        try {
          containerCgroupId = statSync(cgroupPath, { bigint: true }).ino;
        } catch {
          // the cgroup is gone (the sandbox was torn down first): reported as 0
        }
        const found = state.finish();
        view.close();
        const diagnostics: TraceDiagnostics = {
          exit: describeExit(exitCode, exitSignal),
          stderrTail: stderrTail(),
          attachSeconds,
          stopSeconds,
          filteredCgroupId: cgroupId,
          containerCgroupId,
          outputBytes,
        };
        const context = `strace ${diagnostics.exit}, attach ${attachSeconds.toFixed(2)} s, stop ${stopSeconds.toFixed(2)} s, ${outputBytes} bytes of output${diagnostics.stderrTail !== "" ? `, stderr: ${diagnostics.stderrTail.replace(/\n/g, " | ").slice(-400)}` : ""}`;
        const lossReasons: string[] = [];
        if (diedBefore) lossReasons.push(`tracer_died: ${context}`);
        else if (killedAfterTimeout) lossReasons.push(`tracer_stop_timeout: strace did not exit within ${options.stopTimeoutMs} ms; ${context}`);
        const untraced = [...new Set([...missedAtAttach, ...joinedUntraced, ...unchecked, ...stillThere])];
        if (untraced.length > 0)
          lossReasons.push(
            `untraced_process: ${untraced.length} process(es) joined the sandbox's cgroup from outside the traced tree (runc exec, a move) and were not traced (pids ${untraced.slice(0, 5).join(", ")})`,
          );
        lossReasons.push(...found.lossReasons);
        return {
          tracer: "strace",
          opens: [],
          execs: [],
          identity: "inode",
          uses: found.uses,
          channelAttempts: found.channelAttempts,
          diagnostics,
          lossReasons,
          startedAt,
          stoppedAt: new Date(),
          cgroupId,
        };
      },
      async discard(): Promise<void> {
        stopping = true;
        clearInterval(watch);
        child.kill("SIGKILL");
        await closed;
        view.close();
      },
    };
    return session;
  }
}
