/**
 * Which catalogued packages own a path. Every listed file is indexed as listed, as the
 * catalogue resolved it and as this resolver resolves it, so a path the workload touched
 * matches whichever spelling the package database and the loader used.
 */
import type { ImageCatalogue } from "@vexxy/proto";
import { type ImagePathResolver, normaliseAbsolute } from "./image-paths.js";

// Basenames of programs that commonly appear on a "#!" line. Used only when an executed file's
// interpreter is unknown, to say which packages might have run unseen.
const INTERPRETER_NAME = /^(sh|bash|rbash|dash|ash|ksh\d*|mksh|zsh|busybox|env|perl[\d.]*|python[\d.]*|ruby[\d.]*|node|nodejs|php[\d.]*|[gmn]?awk|tclsh[\d.]*|lua[\d.]*|pwsh)$/;
const BIN_DIR = /\/s?bin\/[^/]+$/;

/** Path -> owning packages, plus a basename index for suffix lookups of relative paths. */
export class PackageFileIndex {
  private readonly owners = new Map<string, Set<number>>();
  private readonly byBasename = new Map<string, Array<{ path: string; pkg: number }>>();
  private readonly interpreterFiles = new Map<number, string[]>();
  private readonly fileLists: boolean[];

  /** Indexes every package of the catalogue (index = position in catalogue.packages). */
  constructor(catalogue: ImageCatalogue, private readonly resolver: ImagePathResolver) {
    this.fileLists = catalogue.packages.map((pkg) => pkg.files.length > 0 || pkg.resolvedFiles.length > 0);
    catalogue.packages.forEach((pkg, i) => {
      const spellings = new Set<string>();
      for (const listed of [...pkg.files, ...pkg.resolvedFiles]) {
        const path = normaliseAbsolute(listed);
        if (path === "" || path === "/") continue;
        spellings.add(path);
        const resolved = resolver.resolve(path);
        if (resolved !== undefined && resolved !== "/") spellings.add(resolved);
      }
      for (const path of spellings) {
        this.add(path, i);
        if (INTERPRETER_NAME.test(basename(path)) && BIN_DIR.test(path)) {
          const list = this.interpreterFiles.get(i) ?? [];
          list.push(path);
          this.interpreterFiles.set(i, list);
        }
      }
    });
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
