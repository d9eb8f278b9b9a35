/**
 * The traced workload's file system as the host sees it, for a tracer that learns paths but not
 * identities (strace): an fd on /proc/<pid>/root taken at attach, through which a path the
 * kernel resolved inside the workload's root (its mount namespace included) is stat()ed to the
 * (device, inode) the catalogue uses. The fd keeps the root reachable after the workload's
 * processes are gone; the mounts below it (tmpfs /tmp, /dev, /proc) go with the mount namespace,
 * so a path under one of them is identified while the workload lives or as "a file of that
 * mount" (its device, inode 0), which matches no file of the image.
 */
import { closeSync, lstatSync, openSync, readFileSync, readSync, readlinkSync, statSync } from "node:fs";
import { posix } from "node:path";

/** A file's identity in the kernel's encoding: dev = major << 20 | minor (as bpftrace and Tracee report it). */
export interface KernelIdentity {
  readonly dev: number;
  readonly inode: bigint;
}

interface MountPoint {
  readonly path: string;
  readonly dev: number;
  readonly writable: boolean;
}

/** Symlinks followed in one resolution before giving up (the kernel's own limit). */
const MAX_LINKS = 40;

/** The kernel's device number of a userspace (glibc-encoded) st_dev. */
export function kernelDev(dev: bigint): number {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return Number((major << 20n) | minor);
}

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Reads /proc/<pid>/mountinfo: each mount point (as the process sees it), its device and whether it is writable. */
export function readMountPoints(pid: number): MountPoint[] {
  const mounts: MountPoint[] = [];
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n")) {
    const f = line.split(" ");
    const [major, minor] = (f[2] ?? "").split(":").map(Number);
    if (f.length < 6 || major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    mounts.push({ path: unescapeMountinfo(f[4] ?? "/"), dev: (major << 20) | minor, writable: (f[5] ?? "").split(",").includes("rw") });
  }
  return mounts;
}

export class ProcRootView {
  private readonly cache = new Map<string, KernelIdentity | undefined>();

  private constructor(
    private readonly fd: number,
    private readonly mounts: readonly MountPoint[],
  ) {}

  /** Opens the view of a live process. @throws when the process or its root is gone. */
  static open(pid: number): ProcRootView {
    const mounts = readMountPoints(pid);
    const fd = openSync(`/proc/${pid}/root`, "r");
    return new ProcRootView(fd, mounts);
  }

  /** Whether the workload could rename or remove files of its root (then identities read after the fact may name other files). */
  get rootWritable(): boolean {
    return this.mountOf("/")?.writable ?? true;
  }

  private hostPath(path: string): string {
    return `/proc/self/fd/${this.fd}${path}`;
  }

  private mountOf(path: string): MountPoint | undefined {
    let best: MountPoint | undefined;
    for (const m of this.mounts) {
      const inside = m.path === "/" || path === m.path || path.startsWith(`${m.path}/`);
      if (inside && (best === undefined || m.path.length >= best.path.length)) best = m;
    }
    return best;
  }

  /**
   * The identity of the file at an absolute, already resolved path inside the root; undefined
   * when a file of the root mount cannot be read (gone, renamed: the use cannot be attributed).
   */
  identity(path: string): KernelIdentity | undefined {
    if (!path.startsWith("/")) return undefined;
    const mount = this.mountOf(path);
    // A read-only root cannot change under the workload: one stat per file is enough.
    const cacheable = mount?.path === "/" && !mount.writable;
    if (cacheable && this.cache.has(path)) return this.cache.get(path);
    let found: KernelIdentity | undefined;
    try {
      const st = statSync(this.hostPath(path), { bigint: true });
      found = { dev: kernelDev(st.dev), inode: st.ino };
    } catch {
      found = undefined;
    }
    if (cacheable) this.cache.set(path, found);
    if (mount === undefined || mount.path === "/") return found;
    // Below another mount: once the workload's mount namespace is gone the lookup lands in the
    // root's directory under it, another file; only a stat on that mount's device is trusted.
    if (found !== undefined && found.dev === mount.dev) return found;
    return { dev: mount.dev, inode: 0n };
  }

  /**
   * Resolves a path as the kernel would inside the root (symlinks followed within the root, ".."
   * never above it) from `cwd` for a relative path; undefined when it cannot be resolved.
   */
  resolve(path: string, cwd: string | undefined): string | undefined {
    if (!path.startsWith("/") && cwd === undefined) return undefined;
    let pending = (path.startsWith("/") ? path : `${cwd}/${path}`).split("/").filter((p) => p !== "" && p !== ".");
    let current = "/";
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift() ?? "";
      if (part === "..") {
        current = posix.dirname(current);
        continue;
      }
      const next = posix.join(current, part);
      try {
        const st = lstatSync(this.hostPath(next));
        if (st.isSymbolicLink()) {
          links += 1;
          if (links > MAX_LINKS) return undefined;
          const target = readlinkSync(this.hostPath(next));
          if (target.startsWith("/")) current = "/";
          pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending];
          continue;
        }
      } catch {
        return undefined;
      }
      current = next;
    }
    return current;
  }

  /** The first bytes of a file inside the root (a script's "#!" line), or undefined. */
  head(path: string, bytes: number): Buffer | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(this.hostPath(path), "r");
      const buf = Buffer.alloc(bytes);
      const n = readSync(fd, buf, 0, bytes, 0);
      return buf.subarray(0, n);
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Releases the root. */
  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
