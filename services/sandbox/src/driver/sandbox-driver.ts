/**
 * The sandbox seam: how the service turns an image reference into one isolated, traced run and
 * removes it again. main.ts picks the implementation (LocalRuncDriver here, a Kubernetes driver
 * in production); the stage only sees this interface: no host path crosses it.
 *
 * create takes the image by reference and digest and does everything up to a created, not yet
 * started workload: image intake (digest checked), the image catalogue, the process from the
 * image config, and the container. It answers where the workload runs and how its trace is
 * scoped (TraceScope): a host cgroup for runc, node and container id for Kubernetes, where the
 * kubelet pulls the image and the node's tracer follows the container. The lifecycle is split so
 * the tracer can attach between create (scope exists, workload not yet exec'd) and start.
 */
import type { ImageCatalogue, WorkloadOutcome } from "@vexxy/proto";

/** Resource limits of one sandbox. */
export interface SandboxLimits {
  readonly memoryBytes: number;
  readonly pids: number;
  /** CPUs (may be fractional: 0.5 is half a CPU). */
  readonly cpus: number;
}

/** The process a sandbox runs, built from the image config (workload-process.ts). */
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

/** The image a sandbox runs, as the job names it. */
export interface SandboxImage {
  /** A skopeo reference: docker://…@sha256:…, and on the local driver oci:, oci-archive:, docker-archive:. */
  readonly ref: string;
  /** "sha256:<hex>" of the manifest; the driver fails with ImageDigestMismatchError when it differs. */
  readonly expectedDigest: string;
}

/** What create() needs. */
export interface SandboxSpec {
  /** Container id (see containerIdFor). */
  readonly containerId: string;
  readonly image: SandboxImage;
  /** The job's environment, laid over the image's own. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Limits; the driver's defaults when absent. */
  readonly limits?: Partial<SandboxLimits>;
}

/** Where a sandbox's workload runs. */
export interface SandboxLocation {
  /** The node (host name here, the Kubernetes node name there). */
  readonly node: string;
  /** The container runtime: "runc", "containerd", "cri-o". */
  readonly runtime: string;
}

/**
 * How the profiler finds the workload to trace (vexxy.profiler.v1.TraceScope):
 * - host_cgroup: the container's cgroup v2 directory on the profiler's own host, and its init's
 *   host pid (the local runc driver);
 * - container: the node and the runtime's container id, which a node-wide tracer (Tracee as a
 *   DaemonSet) filters its stream by (a Kubernetes driver; none ships in this release).
 */
export type TraceScope =
  | { readonly kind: "host_cgroup"; readonly cgroupV2Path: string; readonly initPid: number }
  | { readonly kind: "container"; readonly node: string; readonly containerId: string; readonly runtime: string };

/** A created sandbox: its image's identity and facts, where it runs and how to trace it. */
export interface SandboxHandle {
  readonly containerId: string;
  /** The manifest digest the driver verified. */
  readonly manifestDigest: string;
  /** The image catalogue (packages, file identities, symlinks, interpreters) of the image as unpacked for this run. */
  readonly catalogue: ImageCatalogue;
  readonly location: SandboxLocation;
  readonly traceScope: TraceScope;
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

/** One implementation of the seam, chosen by SANDBOX_DRIVER in the composition root. */
export interface SandboxDriver {
  /** "local", "kubernetes". */
  readonly name: string;
  /**
   * Takes in the image (digest checked, unpacked or pulled), catalogues it and creates the
   * sandbox; the workload waits before exec. Whatever fails or is aborted, nothing of this
   * sandbox is left (image, container, cgroups).
   * @throws ImageIntakeError (image_ref / image_digest), ImageProcessError (nothing to run),
   * InvalidSandboxSpecError, SandboxRefusedError when the runtime refuses the image's config,
   * SandboxCreateAbortedError once signal is aborted, SandboxDriverError otherwise.
   */
  create(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxHandle>;
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
  /**
   * Removes the sandbox, its cgroups, its bundle and the image taken in for it; idempotent, also
   * for ids a previous process created.
   */
  destroy(containerId: string): Promise<void>;
  /** Ids of the sandboxes that exist on this node now (only this product's). */
  list(): Promise<string[]>;
}
