/**
 * The tracer seam: something that records, for one sandbox, which files its workload used
 * (opened, executed, mapped executable), each by the identity of the file the kernel used, and
 * every reason the record may be incomplete. Implementations: bpftrace on tracepoints
 * (identities read in the kernel), strace over ptrace (hosts without eBPF: kernel-resolved
 * paths, identities read from the host side), and in production a Tracee stream.
 *
 * A stopped trace is neutral: `uses` (access, identity, label, count, first seen, first pid)
 * and completeness signals in `lossReasons`, each starting with its kind: `tracer_died:`,
 * `tracer_stop_timeout:`, `events_lost:`, `output_unparseable:`, `scope_left:`,
 * `untraced_channel:<syscall>`, `untraced_process:`, `unattributed_use:`, `identity_unstable:`,
 * `map_full:` (bpftrace) and so on. The ingestion path builds the profile from these alone.
 */
import { TracerAttachError } from "../errors.js";

/** Whose trace it is: the job attempt and the sandbox's container id. */
export interface TraceOwner {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
}

/** A sandbox on this host, followed by its cgroup (vexxy.profiler.v1.HostCgroupScope). */
export interface HostCgroupScope extends TraceOwner {
  readonly kind: "host_cgroup";
  /** The cgroup v2 directory of the container; the trace covers its subtree. */
  readonly cgroupPath: string;
  /** Host pid of the container's init, when the driver knows it (diagnostics only). */
  readonly initPid?: number;
}

/**
 * A container on a cluster node, followed by node and runtime container id
 * (vexxy.profiler.v1.ContainerScope): what a node-wide tracer (Tracee's stream) filters on.
 */
export interface ContainerScope extends TraceOwner {
  readonly kind: "container";
  readonly node: string;
  /** The runtime's id of the container (scope.container.container_id), which a node's tracer sees. */
  readonly runtimeContainerId: string;
  /** "containerd", "cri-o", "runc". */
  readonly runtime: string;
}

/** What to trace: who it belongs to and where the workload runs (the StartTrace request's scope). */
export type TraceScope = HostCgroupScope | ContainerScope;

/** The kinds of scope there are. */
export type TraceScopeKind = TraceScope["kind"];

/** One distinct path and how often it was touched. */
export interface PathCount {
  readonly path: string;
  readonly ok: number;
  readonly failed: number;
}

/**
 * How a use reached the file: opened, executed (the binary the kernel ran: for a "#!" script,
 * its interpreter), executed as a script (the file execve named), or mapped executable.
 */
export type UseAccess = "open" | "exec" | "exec_script" | "mmap_exec";

/**
 * One file the workload used, by the kernel's identity of the file object it got (not by the
 * name it asked for). `dev` is the kernel's encoding of the superblock's device
 * (major << 20 | minor); dev 0 and inode 0 mean the tracer could not read the identity.
 */
export interface TracedUse {
  readonly access: UseAccess;
  readonly dev: number;
  readonly inode: bigint;
  /** A label: the exec's filename, or the opened file's last path component. */
  readonly label: string;
  readonly count: number;
  /** The path the kernel resolved, for a "kernel_path" trace (otherwise absent). */
  readonly kernelPath?: string;
  /** Wall-clock nanoseconds since the epoch of the first use, and its pid. */
  readonly firstSeenNs: bigint;
  readonly firstPid: number;
}

/** Calls of a syscall that hands out file access the probes do not see. */
export interface ChannelAttempt {
  readonly syscall: string;
  readonly succeeded: number;
  readonly failed: number;
}

/** Why a trace looks the way it does (kept with every profile; essential when it is incomplete). */
export interface TraceDiagnostics {
  /** "exit 0", "exit 1", "signal SIGKILL", or "running" when it had not ended. */
  readonly exit: string;
  readonly stderrTail: string;
  readonly attachSeconds: number;
  readonly stopSeconds: number;
  readonly filteredCgroupId: bigint;
  /** The id of the container's cgroup directory when the trace stopped (0 if it was gone). */
  readonly containerCgroupId: bigint;
  readonly outputBytes: number;
}

/** What a stopped trace recorded, aggregated per file identity and access. */
export interface TraceResult {
  readonly tracer: string;
  /** Path-only records (tracers without file identities); empty for the identity tracer. */
  readonly opens: readonly PathCount[];
  readonly execs: readonly PathCount[];
  /**
   * "inode" when `uses` carry the kernel's (device, inode) (dev 0 and inode 0: a use whose file
   * could not be identified), "kernel_path" when they carry only `kernelPath`, "" for a
   * path-only tracer.
   */
  readonly identity: "inode" | "kernel_path" | "";
  readonly uses: readonly TracedUse[];
  readonly channelAttempts: readonly ChannelAttempt[];
  readonly diagnostics: TraceDiagnostics;
  /** Empty when nothing was lost; otherwise why the trace cannot be trusted to be complete. */
  readonly lossReasons: readonly string[];
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  readonly cgroupId: bigint;
}

/** A running trace. */
export interface TraceSession {
  readonly scope: TraceScope;
  readonly attachSeconds: number;
  readonly cgroupId: bigint;
  /** Whether the tracer process ended before stop() (its records are lost). */
  readonly died: boolean;
  /** The tracer process's pid, when it runs as a process of this host (diagnostics, tests). */
  readonly pid: number | undefined;
  /** Stops tracing and returns what was recorded. */
  stop(): Promise<TraceResult>;
  /** Stops tracing and throws the records away. */
  discard(): Promise<void>;
}

/** One implementation of the seam, chosen by TRACER in the composition root. */
export interface Tracer {
  readonly name: string;
  /**
   * The scope kinds this tracer can follow (bpftrace and strace: host cgroups of this host; a
   * Tracee client: containers on its node). StartTrace refuses any other kind with
   * FailedPrecondition naming `scope` before start() is called.
   */
  readonly scopeKinds: readonly TraceScopeKind[];
  /**
   * Attaches to the scope; resolves only once the probes are attached.
   * @throws TracerAttachError when the tracer cannot attach within the deadline, or is given a
   * scope kind it does not list in scopeKinds.
   */
  start(scope: TraceScope, deadlineMs: number): Promise<TraceSession>;
}

/**
 * The cgroup directory of a host-cgroup scope.
 * @throws TracerAttachError naming the tracer when the scope is of another kind (the RPC edge
 * refuses such a scope first; this guards direct callers).
 */
export function hostCgroupOf(scope: TraceScope, tracer: string): string {
  if (scope.kind !== "host_cgroup") throw new TracerAttachError(`the ${tracer} tracer follows host cgroups only, not a ${scope.kind} scope`);
  return scope.cgroupPath;
}

/** A tracer process's end for diagnostics: "signal SIGKILL", "exit 1", or "running" while it lives. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${signal}`;
  return code === null ? "running" : `exit ${code}`;
}
