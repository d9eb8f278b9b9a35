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
 * - masked and read-only /proc and /sys paths as runc's default spec has them.
 * - cgroupsPath /vexxy/<id> with memory (swap equal to memory: no swap), pids and CPU quota.
 */
import type { SandboxLimits, SandboxProcess } from "./sandbox-driver.js";

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

/** runc's default masked paths: kernel state a workload must not read. */
export const MASKED_PATHS: readonly string[] = Object.freeze([
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
]);

/** runc's default read-only paths. */
export const READONLY_PATHS: readonly string[] = Object.freeze(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);

/** Inputs of buildOciConfig. */
export interface OciConfigInput {
  readonly rootfsDir: string;
  readonly process: SandboxProcess;
  readonly limits: SandboxLimits;
  readonly cgroupsPath: string;
  readonly hostname: string;
}

/** Builds the config.json object for a sandbox. Pure; never throws. */
export function buildOciConfig(input: OciConfigInput): OciConfig {
  const { process, limits } = input;
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
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
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
        cpu: { quota: Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)), period: CPU_PERIOD_US },
      },
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
