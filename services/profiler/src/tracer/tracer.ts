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

/** What to trace: the sandbox's cgroup (v2 directory) and who it belongs to. */
export interface TraceScope {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
  readonly cgroupPath: string;
}

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
   * Attaches to the scope; resolves only once the probes are attached.
   * @throws TracerAttachError when the tracer cannot attach within the deadline.
   */
  start(scope: TraceScope, deadlineMs: number): Promise<TraceSession>;
}

/** A tracer process's end for diagnostics: "signal SIGKILL", "exit 1", or "running" while it lives. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `signal ${signal}`;
  return code === null ? "running" : `exit ${code}`;
}
