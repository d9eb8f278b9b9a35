/**
 * Which cgroup layout this host has, and where a container's cgroup v2 directory lives in it.
 * Pure v2 (production): /sys/fs/cgroup/cgroup.controllers exists and the container's directory is
 * /sys/fs/cgroup/<cgroupsPath>. Hybrid (these machines): v1 controllers under /sys/fs/cgroup/<ctrl>
 * hold the limits and /sys/fs/cgroup/unified is the v2 tree that gives the cgroup id the tracer
 * filters on.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SandboxDriverError } from "./driver-errors.js";

export type CgroupLayoutKind = "v2" | "hybrid";

export interface CgroupLayout {
  readonly kind: CgroupLayoutKind;
  /** The cgroup mount root (normally /sys/fs/cgroup). */
  readonly root: string;
  /** The root of the v2 tree: root itself on pure v2, root/unified on hybrid. */
  readonly v2Root: string;
}

/**
 * Detects the layout under root.
 * @throws SandboxDriverError when neither a v2 root nor a hybrid unified/ tree exists (pure v1:
 * there would be no cgroup id for the tracer, so the sandbox refuses to run).
 */
export function detectCgroupLayout(root = "/sys/fs/cgroup", exists: (path: string) => boolean = existsSync): CgroupLayout {
  if (exists(join(root, "cgroup.controllers"))) return Object.freeze({ kind: "v2", root, v2Root: root });
  if (exists(join(root, "unified"))) return Object.freeze({ kind: "hybrid", root, v2Root: join(root, "unified") });
  throw new SandboxDriverError(`no cgroup v2 tree under ${root} (neither ${root}/cgroup.controllers nor ${root}/unified): the tracer needs a v2 cgroup id`);
}

/** The v2 directory of a container whose runtime cgroupsPath is e.g. "/vexxy/<id>". */
export function cgroupV2PathFor(layout: CgroupLayout, cgroupsPath: string): string {
  return join(layout.v2Root, cgroupsPath);
}

/** The directory holding controller `controller`'s files for cgroupsPath (v1 on hybrid). */
export function controllerPathFor(layout: CgroupLayout, controller: "memory" | "pids" | "cpu", cgroupsPath: string): string {
  return layout.kind === "v2" ? join(layout.root, cgroupsPath) : join(layout.root, controller, cgroupsPath);
}

/** Every directory the runtime creates for cgroupsPath that we check is gone after destroy. */
export function allCgroupDirsFor(layout: CgroupLayout, cgroupsPath: string): string[] {
  if (layout.kind === "v2") return [join(layout.root, cgroupsPath)];
  return [cgroupV2PathFor(layout, cgroupsPath), ...(["memory", "pids", "cpu"] as const).map((c) => controllerPathFor(layout, c, cgroupsPath))];
}
