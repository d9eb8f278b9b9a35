/**
 * The sandbox seam: how the service creates, starts, waits on and removes one isolated run of an
 * image. main.ts picks the implementation (LocalRuncDriver here, a Kubernetes driver in
 * production); handlers only see this interface. The lifecycle is split so the tracer can attach
 * between create (cgroup exists, workload not yet exec'd) and start.
 */
import type { WorkloadOutcome } from "@vexxy/proto";

/** Resource limits of one sandbox. */
export interface SandboxLimits {
  readonly memoryBytes: number;
  readonly pids: number;
  /** CPUs (may be fractional: 0.5 is half a CPU). */
  readonly cpus: number;
}

/** The process the sandbox runs, usually from the image config. */
export interface SandboxProcess {
  /** argv; must not be empty. */
  readonly args: readonly string[];
  /** "NAME=value" entries. */
  readonly env: readonly string[];
  /** Absolute working directory inside the container ("/" when the image names none). */
  readonly cwd: string;
  /** Numeric user and group inside the container. */
  readonly uid: number;
  readonly gid: number;
}

/** What create() needs. */
export interface SandboxSpec {
  /** Container id (see containerIdFor). */
  readonly containerId: string;
  /** The unpacked image root on this host; mounted read-only. */
  readonly rootfsDir: string;
  readonly process: SandboxProcess;
  /** Limits; the driver's defaults when absent. */
  readonly limits?: Partial<SandboxLimits>;
  readonly hostname?: string;
}

/** A created sandbox. */
export interface SandboxHandle {
  readonly containerId: string;
  /** The cgroup v2 directory of the container: what the tracer filters on. */
  readonly cgroupV2Path: string;
  /** The cgroup path given to the runtime ("/vexxy/<id>"). */
  readonly cgroupsPath: string;
  /** Host pid of the container's init (waiting before exec until start). */
  readonly initPid: number;
  readonly limits: SandboxLimits;
}

/** How a run ended. */
export interface SandboxWaitResult {
  readonly outcome: WorkloadOutcome;
  /** The exit status; 128+signal when killed by a signal; -1 when unknown. */
  readonly exitCode: number;
  /** From start() to exit (or to the kill at the timeout). */
  readonly durationSeconds: number;
  /** The kernel's OOM killer ran in the container's memory cgroup. */
  readonly oomKilled: boolean;
  /** The pids limit refused at least one fork. */
  readonly pidsLimitHit: boolean;
  /** Last bytes of the workload's stdout and stderr (at most 4 KiB each). */
  readonly stdoutTail: string;
  readonly stderrTail: string;
  /** Bytes the workload wrote to stdout and stderr in all (kept or not). */
  readonly stdoutBytes?: number;
  readonly stderrBytes?: number;
  /** More output came than the driver's cap kept. */
  readonly outputTruncated?: boolean;
}

/** The result of exec(). */
export interface SandboxExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface SandboxDriver {
  /** "local", "kubernetes". */
  readonly name: string;
  /**
   * Creates the sandbox with its cgroups and namespaces; the workload waits before exec.
   * @throws SandboxDriverError when the runtime refuses (the sandbox is removed again).
   */
  create(spec: SandboxSpec): Promise<SandboxHandle>;
  /** Lets the created workload exec. @throws SandboxDriverError */
  start(containerId: string): Promise<void>;
  /**
   * Waits for the workload to exit; at timeoutMs after start kills it (outcome TIMEOUT_RUNNING).
   * @throws SandboxNotFoundError when this driver did not create containerId.
   */
  wait(containerId: string, timeoutMs: number): Promise<SandboxWaitResult>;
  /** Runs argv inside the running sandbox (as its user), bounded by timeoutMs. */
  exec?(containerId: string, argv: readonly string[], timeoutMs: number): Promise<SandboxExecResult>;
  /** Sends SIGKILL to every process of the sandbox; a stopped or absent one is not an error. */
  kill(containerId: string): Promise<void>;
  /** Removes the sandbox, its cgroups and its bundle; idempotent, also for ids a previous process created. */
  destroy(containerId: string): Promise<void>;
  /** Ids of the sandboxes that exist on this node now (only this product's). */
  list(): Promise<string[]>;
}
