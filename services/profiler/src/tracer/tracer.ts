/**
 * The tracer seam: something that records, for one sandbox, which files were opened and
 * which programs were executed. Implementations: bpftrace on tracepoints (local), and in
 * production a Tracee stream filtered by container id.
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

/** What a stopped trace recorded, aggregated in the kernel. */
export interface TraceResult {
  readonly tracer: string;
  readonly opens: readonly PathCount[];
  readonly execs: readonly PathCount[];
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
  /** Stops tracing and returns what was recorded. */
  stop(): Promise<TraceResult>;
  /** Stops tracing and throws the records away. */
  discard(): Promise<void>;
}

export interface Tracer {
  readonly name: string;
  /**
   * Attaches to the scope; resolves only once the probes are attached.
   * @throws TracerAttachError when the tracer cannot attach within the deadline.
   */
  start(scope: TraceScope, deadlineMs: number): Promise<TraceSession>;
}
