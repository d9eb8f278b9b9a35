/**
 * The OCI runtime config (config.json) of one sandbox, written by us rather than taken from
 * `runc spec`: every isolation choice is explicit here and tested.
 *
 * - process: the image's argv, env, cwd and numeric uid/gid; no terminal; every capability set
 *   empty and noNewPrivileges, so even uid 0 inside cannot regain privilege.
 * - root read-only; tmpfs on /tmp and /run (the only writable places), a minimal tmpfs /dev
 *   (runc populates null, zero, full, random, urandom, tty) and default-deny device cgroup.
 * - namespaces pid, mount, ipc, uts and a NEW network namespace with no path: runc then
 *   configures only loopback (its specconv adds a "loopback" network for a fresh netns).
 * - a user namespace: container uid/gid 0..65535 map to an unprivileged host range (default
 *   100000..165535), so container root is not host root (own keyrings, no host-uid files), and a
 *   private cgroup namespace (/proc/self/cgroup shows "0::/").
 * - seccomp: services/sandbox/seccomp/vexxy-sandbox-v1.json (deny by default, EPERM).
 * - masked and read-only /proc and /sys paths as Docker's current defaults (moby oci/defaults.go).
 * - rlimits FSIZE (bounded files), NOFILE, CORE 0; oomScoreAdj 1000 (the workload dies first).
 * - cgroupsPath /vexxy/<id> with memory (swap equal to memory: no swap), pids, CPU quota and a
 *   low CPU weight (shares) so the host keeps its share.
 */
import type { SandboxLimits, SandboxProcess } from "./sandbox-driver.js";
import { sandboxSeccomp } from "./seccomp-profile.js";

/** The subset of the OCI runtime spec we write. */
export interface OciConfig {
  readonly ociVersion: string;
  readonly process: Record<string, unknown>;
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly mounts: ReadonlyArray<{ destination: string; type: string; source: string; options: string[] }>;
  readonly linux: Record<string, unknown>;
}

const CPU_PERIOD_US = 100_000;
const TMPFS_SIZE = "size=268435456";

/** Docker's current masked paths: kernel state a workload must not read. */
export const MASKED_PATHS: readonly string[] = Object.freeze([
  "/proc/acpi",
  "/proc/asound",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
]);

/** The host id range container ids 0..size-1 map to. */
export interface IdMapping {
  readonly hostId: number;
  readonly size: number;
}

/** Default mapping: host 100000..165535 (above any login user, as /etc/subuid's usual first range). */
export const DEFAULT_ID_MAPPING: IdMapping = Object.freeze({ hostId: 100_000, size: 65_536 });

/** Largest file a workload may write (RLIMIT_FSIZE); tmpfs sizes bound the total. */
export const FILE_SIZE_LIMIT = 64 * 1024 ** 2;
/** CPU weight (cgroup v1 shares; 1024 is a normal process). */
export const CPU_SHARES = 256;

/** runc's default read-only paths. */
export const READONLY_PATHS: readonly string[] = Object.freeze(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);

/** Inputs of buildOciConfig. */
export interface OciConfigInput {
  readonly rootfsDir: string;
  readonly process: SandboxProcess;
  readonly limits: SandboxLimits;
  readonly cgroupsPath: string;
  readonly hostname: string;
  /** User namespace mapping; DEFAULT_ID_MAPPING when absent. */
  readonly idMapping?: IdMapping;
  /**
   * Tests only: leave linux.seccomp out (a weaker runtime such as Kubernetes' Unconfined), so the
   * red-team suite can show what the tracer reports when a denied syscall succeeds. Never set by
   * the service; absent means the vexxy-sandbox-v1 profile.
   */
  readonly omitSeccomp?: boolean;
}

/** Builds the config.json object for a sandbox. Pure; never throws. */
export function buildOciConfig(input: OciConfigInput): OciConfig {
  const { process, limits } = input;
  const idMap = input.idMapping ?? DEFAULT_ID_MAPPING;
  const mapping = [{ containerID: 0, hostID: idMap.hostId, size: idMap.size }];
  const noCaps = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: process.uid, gid: process.gid, additionalGids: [process.gid] },
      args: [...process.args],
      env: [...process.env],
      cwd: process.cwd,
      capabilities: noCaps,
      rlimits: [
        { type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 },
        { type: "RLIMIT_FSIZE", hard: FILE_SIZE_LIMIT, soft: FILE_SIZE_LIMIT },
        { type: "RLIMIT_CORE", hard: 0, soft: 0 },
      ],
      noNewPrivileges: true,
      oomScoreAdj: 1000,
    },
    root: { path: input.rootfsDir, readonly: true },
    hostname: input.hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", TMPFS_SIZE] },
      { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", TMPFS_SIZE] },
    ],
    linux: {
      cgroupsPath: input.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: "rwm" }],
        memory: { limit: limits.memoryBytes, swap: limits.memoryBytes },
        pids: { limit: limits.pids },
        cpu: { quota: Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)), period: CPU_PERIOD_US, shares: CPU_SHARES },
      },
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }, { type: "cgroup" }],
      uidMappings: mapping,
      gidMappings: mapping,
      ...(input.omitSeccomp === true ? {} : { seccomp: sandboxSeccomp() }),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
