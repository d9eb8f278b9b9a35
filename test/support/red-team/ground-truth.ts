/**
 * Ground truth of the red-team suite, taken from OUTSIDE the tracer and the catalogue: the
 * workload reports on itself (stat of /proc/self/exe, its /proc/self/maps lines, stat -L of the
 * files it read), and the owning packages come from the image's own dpkg file lists, stat()ed
 * here with nothing of services/sandbox/src/catalogue involved.
 *
 * Line formats the workload prints on stdout (see workloads.ts):
 *   RT-EXE <st_dev decimal, userspace encoding> <inode>
 *   RT-MAP <major:minor hex> <inode> <base name>
 *   RT-READ <st_dev decimal, userspace encoding> <inode>
 */
import { lstatSync, readFileSync, readdirSync, realpathSync, type BigIntStats } from "node:fs";
import { dirname, join } from "node:path";

/** A file identity as `${major}:${minor}:${inode}` (decimal). */
export type IdentityKey = string;

/** What the workload said about itself. */
export interface SelfReport {
  /** Identities of the executables the reporting processes ran (/proc/self/exe). */
  readonly exes: ReadonlySet<IdentityKey>;
  /** How many RT-EXE lines named each identity (one per reporting process). */
  readonly exeReports: ReadonlyMap<IdentityKey, number>;
  /** Identities of every file-backed mapping, with the path the kernel showed. */
  readonly maps: ReadonlyMap<IdentityKey, string>;
  /** Identities of files the workload read and then stat()ed through the same name. */
  readonly reads: ReadonlySet<IdentityKey>;
  /** Other RT-* lines (RT-URING, RT-UNSHARE, ...), verbatim. */
  readonly notes: readonly string[];
}

/** glibc's st_dev split into major and minor (the inverse of makedev). */
export function splitUserDev(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major, minor };
}

/** Parses the RT-* lines of a workload's stdout. Lines it does not know are ignored. */
export function parseSelfReport(stdout: string): SelfReport {
  const exes = new Set<IdentityKey>();
  const exeReports = new Map<IdentityKey, number>();
  const maps = new Map<IdentityKey, string>();
  const reads = new Set<IdentityKey>();
  const notes: string[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    const fields = line.split(/\s+/);
    if (fields[0] === "RT-EXE" || fields[0] === "RT-READ") {
      const { major, minor } = splitUserDev(BigInt(fields[1] ?? "0"));
      const key = `${major}:${minor}:${fields[2]}`;
      (fields[0] === "RT-EXE" ? exes : reads).add(key);
      if (fields[0] === "RT-EXE") exeReports.set(key, (exeReports.get(key) ?? 0) + 1);
    } else if (fields[0] === "RT-MAP") {
      const [maj = "0", min = "0"] = (fields[1] ?? "").split(":");
      maps.set(`${Number.parseInt(maj, 16)}:${Number.parseInt(min, 16)}:${fields[2]}`, fields.slice(3).join(" "));
    } else if (line.startsWith("RT-")) {
      notes.push(line);
    }
  }
  return { exes, exeReports, maps, reads, notes };
}

/**
 * Identity -> owning packages, from every /var/lib/dpkg/info/<pkg>.list of the root: each
 * listed path is lstat()ed inside the root (a listed symlink is not followed; its target is
 * listed under its own name). Directories are skipped: they are shared by many packages and no
 * ground-truth line names one. A path whose directory resolves outside the root is skipped.
 */
export function dpkgOwnersByIdentity(root: string): Map<IdentityKey, Set<string>> {
  const info = join(root, "var/lib/dpkg/info");
  const realRoot = realpathSync(root);
  const owners = new Map<IdentityKey, Set<string>>();
  for (const name of readdirSync(info)) {
    if (!name.endsWith(".list")) continue;
    const pkg = name.slice(0, -".list".length).replace(/:[a-z0-9]+$/, "");
    for (const listed of readFileSync(join(info, name), "utf8").split("\n")) {
      if (!listed.startsWith("/") || listed === "/.") continue;
      const onHost = join(root, listed);
      let st: BigIntStats;
      try {
        if (!realpathSync(dirname(onHost)).startsWith(realRoot)) continue;
        st = lstatSync(onHost, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) continue;
      const { major, minor } = splitUserDev(st.dev);
      const key = `${major}:${minor}:${st.ino}`;
      const set = owners.get(key) ?? new Set<string>();
      set.add(pkg);
      owners.set(key, set);
    }
  }
  return owners;
}

/** Installed dpkg packages of the root (name, version, arch) from /var/lib/dpkg/status. */
export function installedPackages(root: string): Array<{ name: string; version: string; arch: string }> {
  const out: Array<{ name: string; version: string; arch: string }> = [];
  for (const para of readFileSync(join(root, "var/lib/dpkg/status"), "utf8").split(/\n\n+/)) {
    const field = (k: string): string => new RegExp(`^${k}: (.*)$`, "m").exec(para)?.[1]?.trim() ?? "";
    if (field("Package") === "" || !/ installed$/.test(field("Status"))) continue;
    out.push({ name: field("Package"), version: field("Version"), arch: field("Architecture") });
  }
  return out;
}
