/**
 * RuncRuntime: containers on this host with `runc` (crun refuses hybrid cgroups), from a root
 * filesystem already unpacked here. It is the container half of LocalRuncDriver (runc-driver.ts),
 * which does image intake and cataloguing in front of it; tests and benches that bring their own
 * root use it directly.
 *
 * create: writes the bundle <workDir>/<id>/config.json (see buildOciConfig) and runs
 * `runc create` under the subreaper shim, so the init waits before exec with its cgroups in
 * place and its exit status will reach us. The caller attaches the tracer, then start runs
 * `runc start`. wait resolves when the shim reports the init's exit, or kills the container at
 * the timeout (TIMEOUT_RUNNING); it reads the memory cgroup's OOM counter before anything is
 * removed (LIMIT_KILLED). destroy runs `runc delete -f`, removes any cgroup directory left and
 * the bundle, and is idempotent, also for containers a previous process created.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { WorkloadOutcome } from "@vexxy/proto";
import { allCgroupDirsFor, cgroupV2PathFor, controllerPathFor, detectCgroupLayout, type CgroupLayout } from "./cgroup-layout.js";
import { CONTAINER_ID_PREFIX, isOurContainerId } from "./container-id.js";
import { InvalidSandboxSpecError, RuncCommandError, SandboxDriverError, SandboxNotFoundError, SandboxRefusedError } from "./driver-errors.js";
import { BoundedOutput } from "./bounded-output.js";
import { shiftRootfsOwnership } from "./rootfs-ownership.js";
import { DEFAULT_ID_MAPPING, buildOciConfig, type IdMapping } from "./oci-config.js";
import type { SandboxExecResult, SandboxLimits, SandboxProcess, SandboxWaitResult } from "./sandbox-driver.js";
import { SUBREAPER_SHIM, prctlSyscallNumber } from "./subreaper-shim.js";

/** Defaults: 4 GiB, 512 pids (the seeds), 1 CPU (below this 2-core host's size). */
export const DEFAULT_LIMITS: SandboxLimits = Object.freeze({ memoryBytes: 4 * 1024 ** 3, pids: 512, cpus: 1 });

/** Default cap of the workload's stdout and of its stderr kept by the driver (each). */
export const DEFAULT_OUTPUT_CAP_BYTES = 4 * 1024 ** 2;

/** What RuncRuntime.create needs: a root filesystem on this host and the process to run in it. */
export interface RuncContainerSpec {
  /** Container id (see containerIdFor). */
  readonly containerId: string;
  /** The unpacked image root on this host; mounted read-only. */
  readonly rootfsDir: string;
  readonly process: SandboxProcess;
  /** Limits; the runtime's defaults when absent. */
  readonly limits?: Partial<SandboxLimits>;
  readonly hostname?: string;
}

/** A created runc container. */
export interface RuncContainer {
  readonly containerId: string;
  /** The cgroup v2 directory of the container: what the tracer filters on. */
  readonly cgroupV2Path: string;
  /** The cgroup path given to runc ("/vexxy/<id>"). */
  readonly cgroupsPath: string;
  /** Host pid of the container's init (waiting before exec until start). */
  readonly initPid: number;
  readonly limits: SandboxLimits;
}

export interface RuncRuntimeOptions {
  /** Where bundles live (<workDir>/<containerId>). */
  readonly workDir: string;
  readonly runcPath?: string;
  /** runc --root (its state directory); runc's default when absent. */
  readonly runcRoot?: string;
  readonly perlPath?: string;
  readonly limits?: Partial<SandboxLimits>;
  /** Overrides layout detection (tests). */
  readonly cgroupLayout?: CgroupLayout;
  /** How long `runc create` may take. */
  readonly createTimeoutMs?: number;
  /** Container ids 0..size-1 map to host hostId.. (user namespace); DEFAULT_ID_MAPPING when absent. */
  readonly idMapping?: IdMapping;
  /** Bytes of stdout and of stderr kept (each); the rest is counted and dropped. */
  readonly outputCapBytes?: number;
  /** Tests only (see OciConfigInput.omitSeccomp): run without the seccomp profile. Absent = profile on. */
  readonly omitSeccomp?: boolean;
}

interface ShimExit {
  readonly code: number;
  readonly signal: number;
}

interface LiveSandbox {
  readonly handle: RuncContainer;
  readonly bundleDir: string;
  readonly shim: ChildProcess;
  readonly exited: Promise<ShimExit>;
  readonly stdout: BoundedOutput;
  readonly stderr: BoundedOutput;
  startedAt?: number;
}

const TAIL_BYTES = 4096;
const KILL_GRACE_MS = 15_000;

/** The runc runtime. Construct once per process; it remembers the containers it created. */
export class RuncRuntime {
  readonly layout: CgroupLayout;
  readonly limits: SandboxLimits;
  private readonly runcPath: string;
  private readonly perlPath: string;
  private readonly live = new Map<string, LiveSandbox>();

  /** @throws SandboxDriverError when the host has no cgroup v2 tree (pure v1). */
  constructor(private readonly options: RuncRuntimeOptions) {
    this.layout = options.cgroupLayout ?? detectCgroupLayout();
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...definedOnly(options.limits ?? {}) });
    this.runcPath = options.runcPath ?? "runc";
    this.perlPath = options.perlPath ?? "perl";
  }

  /** The bundle directory of a container. */
  bundleDirOf(containerId: string): string {
    return join(this.options.workDir, containerId);
  }

  /** The cgroupsPath given to runc for a container. */
  cgroupsPathOf(containerId: string): string {
    return `/vexxy/${containerId}`;
  }

  /**
   * Creates the container with its cgroups and namespaces; the init waits before exec.
   * @throws InvalidSandboxSpecError for an id or process runc would misread,
   * SandboxRefusedError when runc refuses the config, SandboxDriverError for anything else
   * (the container is removed again).
   */
  async create(spec: RuncContainerSpec): Promise<RuncContainer> {
    const id = spec.containerId;
    if (!isOurContainerId(id)) throw new InvalidSandboxSpecError("container_id", `"${id}" is not a ${CONTAINER_ID_PREFIX}* id runc accepts`);
    if (spec.process.args.length === 0) throw new InvalidSandboxSpecError("process.args", "the image names no entrypoint or cmd to run");
    if (!spec.process.cwd.startsWith("/")) throw new InvalidSandboxSpecError("process.cwd", `working directory must be absolute (got "${spec.process.cwd}")`);
    // CVE-2024-21626 shape: a cwd in /proc (e.g. /proc/self/fd/7) can reach a leaked host fd.
    if (/^\/+(proc|sys|dev)(\/|$)/.test(spec.process.cwd) || spec.process.cwd.split("/").includes("..")) {
      throw new InvalidSandboxSpecError("process.cwd", `working directory "${spec.process.cwd}" is inside /proc, /sys or /dev or climbs with "..": refused`);
    }
    if (this.live.has(id)) throw new SandboxDriverError(`sandbox ${id} already exists`);
    const limits: SandboxLimits = Object.freeze({ ...this.limits, ...definedOnly(spec.limits ?? {}) });
    const cgroupsPath = this.cgroupsPathOf(id);
    const bundleDir = this.bundleDirOf(id);
    await rm(bundleDir, { recursive: true, force: true });
    await mkdir(bundleDir, { recursive: true, mode: 0o700 });
    const idMapping = this.options.idMapping ?? DEFAULT_ID_MAPPING;
    await shiftRootfsOwnership(spec.rootfsDir, idMapping);
    const config = buildOciConfig({
      rootfsDir: spec.rootfsDir,
      process: spec.process,
      limits,
      cgroupsPath,
      hostname: spec.hostname ?? "sandbox",
      idMapping,
      omitSeccomp: this.options.omitSeccomp === true,
    });
    await writeFile(join(bundleDir, "config.json"), JSON.stringify(config, null, 1));
    const pidFile = join(bundleDir, "init.pid");
    const runcArgv = [this.runcPath, ...this.rootArgs(), "create", "--bundle", bundleDir, "--pid-file", pidFile, id];
    const shim = spawn(
      this.perlPath,
      ["-e", SUBREAPER_SHIM, String(prctlSyscallNumber()), "3", "4", pidFile, ...runcArgv],
      // fds 3 and 4: the workload's stdout and stderr are pipes we read, never host files.
      { stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"], detached: true },
    );
    const cap = this.options.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES;
    const stdout = new BoundedOutput(cap);
    const stderr = new BoundedOutput(cap);
    const stdoutDone = stdout.drain(shim.stdio[3] as NodeJS.ReadableStream);
    const stderrDone = stderr.drain(shim.stdio[4] as NodeJS.ReadableStream);
    const lines = createInterface({ input: shim.stdout! });
    let shimStderr = "";
    shim.stderr!.on("data", (chunk: Buffer) => {
      shimStderr = (shimStderr + chunk.toString("utf8")).slice(-2000);
    });
    let onCreated: (pid: number) => void = () => undefined;
    let onCreateFailed: (error: Error) => void = () => undefined;
    const created = new Promise<number>((resolve, reject) => {
      onCreated = resolve;
      onCreateFailed = reject;
    });
    const exited = new Promise<ShimExit>((resolve) => {
      lines.on("line", (line) => {
        const [word, a, b] = line.trim().split(/\s+/);
        if (word === "created") onCreated(Number(a));
        else if (word === "exited") resolve({ code: Number(a), signal: Number(b) });
        else if (word === "create_failed") onCreateFailed(new ShimCreateFailed(line, Number(a)));
      });
      // "close", not "exit": the shim's last lines may still be in the pipe when it exits.
      shim.on("close", (code) => {
        onCreateFailed(new Error(`shim exited ${code} before the container was created: ${shimStderr.trim()}`));
        resolve({ code: -1, signal: 0 });
      });
      shim.on("error", (error) => {
        onCreateFailed(error);
        resolve({ code: -1, signal: 0 });
      });
    });
    let initPid: number;
    try {
      initPid = await withTimeout(created, this.options.createTimeoutMs ?? 60_000, `runc create ${id}`);
    } catch (error) {
      await Promise.race([Promise.all([stdoutDone, stderrDone]), sleep(2000)]);
      const said = stderr.tail(TAIL_BYTES).trim();
      await this.destroy(id);
      // runc ran and exited non-zero: it refused this container (its config, the image's cwd or
      // entrypoint). Anything else (timeout, shim not started) is an infrastructure fault.
      if (error instanceof ShimCreateFailed && error.runcExitCode > 0 && error.runcExitCode < 125) {
        throw new SandboxRefusedError(`runc refused to create the container: ${said || error.message}`, { cause: error });
      }
      throw new SandboxDriverError(`runc create ${id} failed: ${said || (error as Error).message}`, { cause: error });
    }
    const handle: RuncContainer = Object.freeze({ containerId: id, cgroupV2Path: cgroupV2PathFor(this.layout, cgroupsPath), cgroupsPath, initPid, limits });
    this.live.set(id, { handle, bundleDir, shim, exited, stdout, stderr });
    if (!existsSync(handle.cgroupV2Path)) {
      await this.destroy(id);
      throw new SandboxDriverError(`runc created ${id} but its cgroup v2 directory ${handle.cgroupV2Path} does not exist`);
    }
    return handle;
  }

  async start(containerId: string): Promise<void> {
    const entry = this.entry(containerId);
    entry.startedAt = Date.now();
    await this.runc(["start", containerId]);
  }

  async wait(containerId: string, timeoutMs: number): Promise<SandboxWaitResult> {
    const entry = this.entry(containerId);
    const startedAt = entry.startedAt ?? Date.now();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, timeoutMs - (Date.now() - startedAt)));
    });
    let exit = await Promise.race([entry.exited, deadline]);
    clearTimeout(timer);
    const endedAt = Date.now();
    if (exit === "timeout") {
      timedOut = true;
      await this.kill(containerId);
      exit = await withTimeout(entry.exited, KILL_GRACE_MS, `exit of ${containerId} after SIGKILL`).catch(() => ({ code: -1, signal: 9 }));
    }
    const oomKilled = await this.oomKilled(entry.handle.cgroupsPath);
    const pidsLimitHit = await this.pidsLimitHit(entry.handle.cgroupsPath);
    const exitCode = exit.signal > 0 ? 128 + exit.signal : exit.code;
    const outcome = oomKilled
      ? WorkloadOutcome.LIMIT_KILLED
      : timedOut
        ? WorkloadOutcome.TIMEOUT_RUNNING
        : exitCode === 0
          ? WorkloadOutcome.EXITED_OK
          : WorkloadOutcome.EXITED_ERROR;
    return {
      outcome,
      exitCode,
      durationSeconds: ((timedOut ? endedAt : Date.now()) - startedAt) / 1000,
      oomKilled,
      pidsLimitHit,
      stdoutTail: entry.stdout.tail(TAIL_BYTES),
      stderrTail: entry.stderr.tail(TAIL_BYTES),
      stdoutBytes: entry.stdout.totalBytes,
      stderrBytes: entry.stderr.totalBytes,
      outputTruncated: entry.stdout.truncated || entry.stderr.truncated,
    };
  }

  async exec(containerId: string, argv: readonly string[], timeoutMs: number): Promise<SandboxExecResult> {
    this.entry(containerId);
    const result = await runCommand([this.runcPath, ...this.rootArgs(), "exec", containerId, ...argv], timeoutMs);
    return {
      exitCode: result.code ?? (result.signal !== null ? 128 + signalNumber(result.signal) : -1),
      stdout: result.stdout,
      stderr: result.stderr,
      timedOut: result.timedOut,
    };
  }

  async kill(containerId: string): Promise<void> {
    if (!isOurContainerId(containerId)) return;
    const result = await runCommand([this.runcPath, ...this.rootArgs(), "kill", "--all", containerId, "KILL"], 30_000);
    if (result.code !== 0 && !/does not exist|not running|container not running|process already finished/i.test(result.stderr)) {
      throw new RuncCommandError(["runc", "kill", containerId], result.code, result.stderr);
    }
  }

  async destroy(containerId: string): Promise<void> {
    if (!isOurContainerId(containerId)) throw new InvalidSandboxSpecError("container_id", `"${containerId}" is not one of ours`);
    const entry = this.live.get(containerId);
    const result = await runCommand([this.runcPath, ...this.rootArgs(), "delete", "--force", containerId], 60_000);
    if (result.code !== 0 && !/does not exist/i.test(result.stderr)) {
      throw new RuncCommandError(["runc", "delete", "--force", containerId], result.code, result.stderr);
    }
    if (entry !== undefined) {
      // The shim reports the init's exit once delete killed it; after that nothing holds the cgroup.
      await withTimeout(entry.exited, KILL_GRACE_MS, "shim exit").catch(() => entry.shim.kill("SIGKILL"));
    }
    await this.removeLeftoverCgroups(this.cgroupsPathOf(containerId));
    await rm(this.bundleDirOf(containerId), { recursive: true, force: true });
    this.live.delete(containerId);
  }

  async list(): Promise<string[]> {
    const result = await runCommand([this.runcPath, ...this.rootArgs(), "list", "--format", "json"], 30_000);
    if (result.code !== 0) throw new RuncCommandError(["runc", "list"], result.code, result.stderr);
    const parsed: unknown = JSON.parse(result.stdout.trim() === "" ? "null" : result.stdout);
    if (!Array.isArray(parsed)) return [];
    return parsed
      .map((row: unknown) => (typeof row === "object" && row !== null ? String((row as { id?: unknown }).id ?? "") : ""))
      .filter((id) => id.startsWith(CONTAINER_ID_PREFIX))
      .sort();
  }

  /** Whether the driver holds a sandbox with this id (created by this process). */
  has(containerId: string): boolean {
    return this.live.has(containerId);
  }

  private entry(containerId: string): LiveSandbox {
    const entry = this.live.get(containerId);
    if (entry === undefined) throw new SandboxNotFoundError(containerId);
    return entry;
  }

  private rootArgs(): string[] {
    return this.options.runcRoot === undefined ? [] : ["--root", this.options.runcRoot];
  }

  private async runc(args: string[]): Promise<string> {
    const argv = [this.runcPath, ...this.rootArgs(), ...args];
    const result = await runCommand(argv, 60_000);
    if (result.code !== 0) throw new RuncCommandError(argv, result.code, result.stderr);
    return result.stdout;
  }

  private async oomKilled(cgroupsPath: string): Promise<boolean> {
    const dir = controllerPathFor(this.layout, "memory", cgroupsPath);
    const file = this.layout.kind === "v2" ? join(dir, "memory.events") : join(dir, "memory.oom_control");
    return (await counter(file, "oom_kill")) > 0;
  }

  private async pidsLimitHit(cgroupsPath: string): Promise<boolean> {
    return (await counter(join(controllerPathFor(this.layout, "pids", cgroupsPath), "pids.events"), "max")) > 0;
  }

  private async removeLeftoverCgroups(cgroupsPath: string): Promise<void> {
    for (const dir of allCgroupDirsFor(this.layout, cgroupsPath)) {
      if (!existsSync(dir)) continue;
      // An empty cgroup is removed with rmdir; one still holding processes fails, and that is a leak to report.
      await rmdir(dir).catch((error: unknown) => {
        // A concurrent destroy (cancel racing the run's own teardown) may have removed it first.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw new SandboxDriverError(`cgroup ${dir} of a destroyed sandbox could not be removed`, { cause: error });
      });
    }
  }
}

/** Reads "key N" from a cgroup flat-keyed file; 0 when the file or key is absent. */
async function counter(file: string, key: string): Promise<number> {
  const text = await readFile(file, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key) return Number(v) || 0;
  }
  return 0;
}

/** The shim reported that `runc create` exited non-zero (runcExitCode) or could not run (>= 125). */
class ShimCreateFailed extends Error {
  constructor(
    line: string,
    readonly runcExitCode: number,
  ) {
    super(line);
    this.name = "ShimCreateFailed";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

function runCommand(argv: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    const child = spawn(command!, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      timedOut = true;
      // runc exec forwards SIGTERM to the process it runs; SIGKILL follows if it does not end.
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SandboxDriverError(`${argv[0]} could not be run`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 1;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SandboxDriverError(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
