/**
 * Which catalogued packages own a path. Every listed file is indexed as listed, as the
 * catalogue resolved it and as this resolver resolves it, so a path the workload touched
 * matches whichever spelling the package database and the loader used.
 */
import type { ImageCatalogue } from "@vexxy/proto";
import { type ImagePathResolver, normaliseAbsolute } from "./image-paths.js";

// Basenames of programs that commonly appear on a "#!" line. Used only when an executed file's
// interpreter is unknown, to say which packages might have run unseen.
const INTERPRETER_NAME =
  /^(sh|bash|rbash|dash|ash|ksh\d*|mksh|zsh|busybox|env|perl[\d.]*|python[\d.]*|ruby[\d.]*|node|nodejs|php[\d.]*|[gmn]?awk|tclsh[\d.]*|lua[\d.]*|pwsh)$/;
const BIN_DIR = /\/s?bin\/[^/]+$/;

/** Path -> owning packages, plus a basename index for suffix lookups of relative paths. */
export class PackageFileIndex {
  private readonly owners = new Map<string, Set<number>>();
  private readonly byBasename = new Map<string, Array<{ path: string; pkg: number }>>();
  private readonly interpreterFiles = new Map<number, string[]>();
  private readonly fileLists: boolean[];

  /**
   * Indexes every package of the catalogue (index = position in catalogue.packages).
   * A listed file that is itself a symlink gives its package the link's own path; the file it
   * points to is credited to that package only when no package lists the target as a regular
   * file (libc-bin's /usr/bin/ld.so link does not make libc-bin the owner of libc6's loader).
   * The catalogue's resolved_files are link targets, credited the same way.
   */
  constructor(
    catalogue: ImageCatalogue,
    private readonly resolver: ImagePathResolver,
  ) {
    this.fileLists = catalogue.packages.map((pkg) => pkg.files.length > 0 || pkg.resolvedFiles.length > 0);
    const linkTargets: Array<{ path: string; pkg: number }> = [];
    catalogue.packages.forEach((pkg, i) => {
      for (const listed of pkg.files) {
        const path = normaliseAbsolute(listed);
        if (path === "" || path === "/") continue;
        const located = this.resolveParent(path);
        this.add(path, i);
        if (located !== undefined) this.add(located, i);
        if (located !== undefined && resolver.isLink(located)) {
          const target = resolver.resolve(path);
          if (target !== undefined && target !== "/") linkTargets.push({ path: target, pkg: i });
        }
      }
      for (const listed of pkg.resolvedFiles) {
        const path = normaliseAbsolute(listed);
        if (path === "" || path === "/") continue;
        // With no file list the resolved list is all there is: take it as owned.
        if (pkg.files.length === 0) this.add(path, i);
        else linkTargets.push({ path, pkg: i });
      }
    });
    const directlyOwned = new Set(this.owners.keys());
    for (const { path, pkg } of linkTargets) {
      if (!directlyOwned.has(path)) this.add(path, pkg);
    }
    for (const [path, pkgs] of this.owners) {
      if (!INTERPRETER_NAME.test(basename(path)) || !BIN_DIR.test(path)) continue;
      for (const pkg of pkgs) {
        const list = this.interpreterFiles.get(pkg) ?? [];
        if (!list.includes(path)) list.push(path);
        this.interpreterFiles.set(pkg, list);
      }
    }
  }

  /** Packages owning the path as given or after resolving its symlinks. */
  ownersOf(path: string): number[] {
    const found = new Set<number>();
    const normal = normaliseAbsolute(path);
    for (const spelling of [normal, this.resolver.resolve(path)]) {
      if (spelling === undefined || spelling === "") continue;
      for (const pkg of this.owners.get(spelling) ?? []) found.add(pkg);
    }
    return [...found];
  }

  /**
   * Packages that own a file whose path ends with "/" + relative (leading "./" and "../"
   * dropped): the packages an unresolved relative open could have read. Empty when the
   * relative path names no file (".", "..").
   */
  ownersBySuffix(relative: string): Array<{ pkg: number; path: string }> {
    const parts = relative.split("/").filter((part) => part !== "" && part !== ".");
    while (parts[0] === "..") parts.shift();
    const last = parts[parts.length - 1];
    if (last === undefined || last === "..") return [];
    // A ".." in the middle can land anywhere: only the final name still narrows the owner.
    const suffix = parts.includes("..") ? `/${last}` : `/${parts.join("/")}`;
    return (this.byBasename.get(last) ?? []).filter((entry) => entry.path.endsWith(suffix));
  }

  /** Whether the package has any file list at all (otherwise nothing can be mapped to it). */
  hasFileList(pkg: number): boolean {
    return this.fileLists[pkg] ?? false;
  }

  /** The package's files that look like a script interpreter in a bin directory. */
  interpreterFilesOf(pkg: number): readonly string[] {
    return this.interpreterFiles.get(pkg) ?? [];
  }

  /** The path with its directories' symlinks resolved, the last component kept as is. */
  private resolveParent(path: string): string | undefined {
    const cut = path.lastIndexOf("/");
    if (cut <= 0) return path;
    const parent = this.resolver.resolve(path.slice(0, cut));
    if (parent === undefined) return undefined;
    return `${parent === "/" ? "" : parent}/${path.slice(cut + 1)}`;
  }

  private add(path: string, pkg: number): void {
    let set = this.owners.get(path);
    if (set === undefined) {
      set = new Set();
      this.owners.set(path, set);
    }
    if (set.has(pkg)) return;
    set.add(pkg);
    const name = basename(path);
    const list = this.byBasename.get(name) ?? [];
    list.push({ path, pkg });
    this.byBasename.set(name, list);
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
