/**
 * The dpkg catalogue reader. Packages come from var/lib/dpkg/status and, for distroless images,
 * from var/lib/dpkg/status.d/<name> stanzas; files from var/lib/dpkg/info/<pkg>[:<arch>].list or,
 * in status.d, from <name>.md5sums (or <name>.list). dpkg's Status field is "<want> <flag>
 * <status>": every status "installed" is kept whatever the want (install, hold, deinstall,
 * purge), and the states whose files may be on disk without the package being set up
 * (half-installed, unpacked, half-configured) are kept as installState "partial"; only
 * not-installed and config-files are absent. triggers-awaited/-pending packages are unpacked and
 * configured, so "installed". Diversions (var/lib/dpkg/diversions, 3-line records from / to /
 * diverting package, "local" meaning every package) move a listed path of every package but the
 * diverter to the diverted-to path. Purls follow Trivy and Grype for Debian
 * (pkg:deb/<distro>/<name>@<version>?arch=<arch>&distro=<id>-<version_id>).
 *
 * Every database file is read resolved inside the image root (readFileInRoot), and package
 * names and architectures are validated before they become part of a path: a hostile name
 * refuses the whole image (HostileDpkgDatabaseError).
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PackageURL } from "packageurl-js";
import type { CatalogueReading, OsRelease, PackageCatalogueReader, RawPackage } from "./package-catalogue-reader.js";
import { readFileInRoot, resolveInRoot, resolvedTypeInRoot, type InRootCache } from "./resolve-in-root.js";

/** A dpkg database entry that could make the catalogue read outside the database; the image is refused. */
export class HostileDpkgDatabaseError extends Error {
  constructor(readonly detail: string) {
    super(`hostile dpkg database in the image: ${detail}`);
    this.name = "HostileDpkgDatabaseError";
  }
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*$/;
const ARCH_NAME = /^[a-z0-9][a-z0-9-]*$/;

interface Stanza {
  readonly [field: string]: string | undefined;
}

function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last = "";
    for (const line of block.split("\n")) {
      if (/^\s/.test(line) && last !== "") {
        fields[last] = `${fields[last] ?? ""}\n${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields[last] = line.slice(colon + 1).trim();
    }
    if (fields["Package"] !== undefined) stanzas.push(fields);
  }
  return stanzas;
}

/** installState from a dpkg Status field, or undefined when the package's files are absent. */
export function dpkgInstallState(status: string | undefined): "installed" | "partial" | undefined {
  const current = (status ?? "").trim().split(/\s+/)[2];
  switch (current) {
    case "installed":
    case "triggers-awaited":
    case "triggers-pending":
      return "installed";
    case "half-installed":
    case "unpacked":
    case "half-configured":
      return "partial";
    default:
      return undefined;
  }
}

/** A parsed diversion: `from` of every package but `by` (all when "local") lives at `to`. */
export interface Diversion {
  readonly from: string;
  readonly to: string;
  readonly by: string;
}

/** Parses var/lib/dpkg/diversions (3-line records); a trailing incomplete record is ignored. */
export function parseDiversions(text: string): Diversion[] {
  const lines = text.split("\n");
  const out: Diversion[] = [];
  for (let i = 0; i + 2 < lines.length; i += 3) {
    const [from, to, by] = [lines[i]!, lines[i + 1]!, lines[i + 2]!];
    if (!from.startsWith("/") || !to.startsWith("/") || by === "") continue;
    out.push({ from, to, by });
  }
  return out;
}

function listLines(text: string): string[] {
  return text.split("\n").filter((p) => p !== "" && p !== "/.");
}

function md5sumsPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^[0-9a-f]{32}\s+(.+)$/.exec(line);
    if (m?.[1] !== undefined) out.push(m[1].startsWith("/") ? m[1] : `/${m[1]}`);
  }
  return out;
}

/** Reads dpkg databases (status and status.d) with diversions, inside the image root only. */
export class DpkgReader implements PackageCatalogueReader {
  readonly ecosystem = "deb";

  async present(root: string): Promise<boolean> {
    if ((await readFileInRoot(root, "/var/lib/dpkg/status")) !== undefined) return true;
    return (await this.statusDEntries(root)).length > 0;
  }

  private async statusDEntries(root: string): Promise<string[]> {
    const dir = await resolveInRoot(root, "/var/lib/dpkg/status.d");
    if (dir === undefined) return [];
    const names = await readdir(join(root, dir)).catch(() => [] as string[]);
    return names.filter((n) => !n.endsWith(".md5sums") && !n.endsWith(".list")).sort();
  }

  async read(root: string, os: OsRelease, cache: InRootCache = new Map()): Promise<CatalogueReading> {
    const diversions = parseDiversions((await readFileInRoot(root, "/var/lib/dpkg/diversions")) ?? "");
    // Keyed by the path with its directory resolved in the image (the name itself is kept, as
    // dpkg diverts names): "/bin/sh" and "/usr/bin/sh" are one diversion under merged /usr.
    const byFrom = new Map<string, Diversion>();
    for (const d of diversions) byFrom.set(await directoryResolved(root, d.from, cache), d);
    const packages: RawPackage[] = [];
    const status = await readFileInRoot(root, "/var/lib/dpkg/status");
    for (const s of parseStanzas(status ?? "")) {
      const state = dpkgInstallState(s["Status"]);
      if (state === undefined) continue;
      const { name, arch } = validated(s);
      const list =
        (arch === "" ? undefined : await readFileInRoot(root, `/var/lib/dpkg/info/${name}:${arch}.list`)) ??
        (await readFileInRoot(root, `/var/lib/dpkg/info/${name}.list`)) ??
        "";
      packages.push(await this.toPackage(root, os, s, state, listLines(list), byFrom, cache));
    }
    for (const entry of await this.statusDEntries(root)) {
      // entry comes from readdir (one component, no "/"), so joining it cannot leave status.d.
      const text = await readFileInRoot(root, `/var/lib/dpkg/status.d/${entry}`);
      if (text === undefined) continue;
      const md5 = await readFileInRoot(root, `/var/lib/dpkg/status.d/${entry}.md5sums`);
      const list = await readFileInRoot(root, `/var/lib/dpkg/status.d/${entry}.list`);
      const files = md5 !== undefined ? md5sumsPaths(md5) : listLines(list ?? "");
      for (const s of parseStanzas(text)) {
        // distroless writes a stanza per installed package, often without a Status field.
        const state = s["Status"] === undefined ? "installed" : dpkgInstallState(s["Status"]);
        if (state === undefined) continue;
        validated(s);
        packages.push(await this.toPackage(root, os, s, state, files, byFrom, cache));
      }
    }
    return { packages, diversions: diversions.map((d) => `${d.from} -> ${d.to} (by ${d.by})`) };
  }

  private async toPackage(
    root: string,
    os: OsRelease,
    s: Stanza,
    installState: "installed" | "partial",
    listed: readonly string[],
    byFrom: ReadonlyMap<string, Diversion>,
    cache: InRootCache,
  ): Promise<RawPackage> {
    const { name, arch } = validated(s);
    const version = s["Version"] ?? "";
    const source = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(s["Source"] ?? "");
    const files: string[] = [];
    const divertedFiles: string[] = [];
    for (const raw of listed) {
      if (!raw.startsWith("/") || raw.includes("\0")) continue;
      const d = byFrom.get(await directoryResolved(root, raw, cache));
      const path = d !== undefined && d.by !== name ? d.to : raw;
      // Directories are omitted, including merged-/usr links such as /bin -> usr/bin that dpkg
      // lists as the package's: opening a directory is no use of a package.
      if ((await resolvedTypeInRoot(root, path, cache))?.type === "dir") continue;
      files.push(path);
      if (path !== raw) divertedFiles.push(path);
    }
    const qualifiers: Record<string, string> = {};
    if (arch !== "") qualifiers["arch"] = arch;
    if (os.id !== "") qualifiers["distro"] = `${os.id}-${os.versionId}`;
    const purl = new PackageURL("deb", os.id === "" ? "debian" : os.id, name, version, qualifiers, undefined).toString();
    return {
      name,
      version,
      architecture: arch,
      type: "deb",
      purl,
      sourceName: source?.[1] ?? name,
      sourceVersion: source?.[2] ?? version,
      installState,
      files,
      divertedFiles,
    };
  }
}

function validated(s: Stanza): { name: string; arch: string } {
  const field = s["Package"] ?? "";
  // A Package field may carry ":arch" (multi-arch); both halves are checked before any path use.
  const colon = field.indexOf(":");
  const name = colon < 0 ? field : field.slice(0, colon);
  const arch = s["Architecture"] ?? (colon < 0 ? "" : field.slice(colon + 1));
  if (!PACKAGE_NAME.test(name)) throw new HostileDpkgDatabaseError(`package name ${JSON.stringify(field)}`);
  if (colon >= 0 && !ARCH_NAME.test(field.slice(colon + 1))) throw new HostileDpkgDatabaseError(`package name ${JSON.stringify(field)}`);
  if (arch !== "" && !ARCH_NAME.test(arch)) throw new HostileDpkgDatabaseError(`architecture ${JSON.stringify(arch)} of ${name}`);
  return { name, arch };
}

/** The path with its directory resolved inside the image and its last name kept (the path itself when the directory does not resolve). */
async function directoryResolved(root: string, path: string, cache: InRootCache): Promise<string> {
  const slash = path.lastIndexOf("/");
  const dir = await resolveInRoot(root, path.slice(0, slash) || "/", cache);
  if (dir === undefined) return path;
  return `${dir === "/" ? "" : dir}/${path.slice(slash + 1)}`;
}
