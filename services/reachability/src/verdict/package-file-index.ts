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

const NONE: readonly number[] = Object.freeze([]);

/** What the index is built for. */
export interface PackageFileIndexOptions {
  /** Whether ownersBySuffix will be asked (relative opens of legacy profiles); default true. */
  readonly suffixLookups?: boolean;
}

/** Path -> owning packages, plus a basename index for suffix lookups of relative paths. */
export class PackageFileIndex {
  // Owners in the order they were credited (one number for the common single owner, to keep
  // a catalogue of a million paths from holding a million small arrays); a package is
  // credited a path at most once.
  private readonly owners = new Map<string, number | number[]>();
  // Every (path, package) credit in order, for the basename index built on first use.
  private readonly creditedPaths: string[] | undefined;
  private readonly creditedPkgs: number[] | undefined;
  private byBasename: Map<string, Array<{ path: string; pkg: number }>> | undefined;
  private interpreterFiles: Map<number, string[]> | undefined;
  private readonly fileLists: boolean[];
  private readonly parentCache = new Map<string, string | undefined>();
  private lastDir = "";
  private lastParent: string | undefined;

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
    options: PackageFileIndexOptions = {},
  ) {
    if (options.suffixLookups ?? true) {
      this.creditedPaths = [];
      this.creditedPkgs = [];
    }
    this.fileLists = catalogue.packages.map((pkg) => pkg.files.length > 0 || pkg.resolvedFiles.length > 0);
    const linkTargets: Array<{ path: string; pkg: number }> = [];
    // Packages are indexed in order, so a package's repeated credit of a path is always the
    // last owner of that path: add() checks only the last.
    catalogue.packages.forEach((pkg, i) => {
      for (const listed of pkg.files) {
        const path = normaliseAbsolute(listed);
        if (path === "" || path === "/") continue;
        const located = this.resolveParent(path);
        this.add(path, i);
        if (located !== undefined && located !== path) this.add(located, i);
        if (located !== undefined && resolver.isLinkNormal(located)) {
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
    // A target no package lists directly; the paths credited here are the only new keys.
    const viaLink = new Set<string>();
    for (const { path, pkg } of linkTargets) {
      if (this.owners.has(path) && !viaLink.has(path)) continue;
      viaLink.add(path);
      this.add(path, pkg);
    }
  }

  /** Packages owning the path as given or after resolving its symlinks. */
  ownersOf(path: string): number[] {
    const normal = normaliseAbsolute(path);
    if (normal === "") return [];
    return [...this.ownersOfSpellings(normal, this.resolver.resolveNormal(normal))];
  }

  /**
   * ownersOf for a path already normalised and resolved (either may be ""/undefined), without
   * a copy: the answer may be the index's own list, which the caller must not change.
   */
  ownersOfSpellings(normal: string, resolved: string | undefined): readonly number[] {
    const direct = normal !== "" ? this.owners.get(normal) : undefined;
    const viaLinks = resolved !== undefined && resolved !== "" && resolved !== normal ? this.owners.get(resolved) : undefined;
    if (viaLinks === undefined) return direct === undefined ? NONE : typeof direct === "number" ? [direct] : direct;
    if (direct === undefined) return typeof viaLinks === "number" ? [viaLinks] : viaLinks;
    const found = new Set<number>(typeof direct === "number" ? [direct] : direct);
    for (const pkg of typeof viaLinks === "number" ? [viaLinks] : viaLinks) found.add(pkg);
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
    return (this.basenameIndex().get(last) ?? []).filter((entry) => entry.path.endsWith(suffix));
  }

  /** Whether the package has any file list at all (otherwise nothing can be mapped to it). */
  hasFileList(pkg: number): boolean {
    return this.fileLists[pkg] ?? false;
  }

  /** The package's files that look like a script interpreter in a bin directory. */
  interpreterFilesOf(pkg: number): readonly string[] {
    if (this.interpreterFiles === undefined) {
      const found = new Map<number, string[]>();
      for (const [path, pkgs] of this.owners) {
        if (!INTERPRETER_NAME.test(basename(path)) || !BIN_DIR.test(path)) continue;
        for (const owner of typeof pkgs === "number" ? [pkgs] : pkgs) {
          const list = found.get(owner) ?? [];
          if (!list.includes(path)) list.push(path);
          found.set(owner, list);
        }
      }
      this.interpreterFiles = found;
    }
    return this.interpreterFiles.get(pkg) ?? [];
  }

  /** Credits by basename, in credit order (built on the first suffix lookup). */
  private basenameIndex(): Map<string, Array<{ path: string; pkg: number }>> {
    if (this.byBasename === undefined) {
      const { creditedPaths, creditedPkgs } = this;
      if (creditedPaths === undefined || creditedPkgs === undefined) throw new Error("PackageFileIndex built without suffixLookups");
      const index = new Map<string, Array<{ path: string; pkg: number }>>();
      creditedPaths.forEach((path, i) => {
        const name = basename(path);
        const list = index.get(name) ?? [];
        list.push({ path, pkg: creditedPkgs[i] ?? -1 });
        index.set(name, list);
      });
      this.byBasename = index;
    }
    return this.byBasename;
  }

  /** The path with its directories' symlinks resolved, the last component kept as is. */
  private resolveParent(path: string): string | undefined {
    const cut = path.lastIndexOf("/");
    if (cut <= 0) return path;
    // A package lists its files directory by directory: the last directory is usually this one.
    let dir: string;
    let parent: string | undefined;
    if (cut === this.lastDir.length && path.startsWith(this.lastDir)) {
      dir = this.lastDir;
      parent = this.lastParent;
    } else {
      dir = path.slice(0, cut);
      parent = this.parentCache.get(dir);
      if (parent === undefined && !this.parentCache.has(dir)) {
        parent = this.resolver.resolveNormal(dir);
        this.parentCache.set(dir, parent);
      }
      this.lastDir = dir;
      this.lastParent = parent;
    }
    if (parent === undefined) return undefined;
    if (parent === dir) return path;
    return `${parent === "/" ? "" : parent}/${path.slice(cut + 1)}`;
  }

  private add(path: string, pkg: number): void {
    const had = this.owners.get(path);
    if (had === undefined) this.owners.set(path, pkg);
    else if (typeof had === "number") {
      if (had === pkg) return;
      this.owners.set(path, [had, pkg]);
    } else if (had[had.length - 1] !== pkg) had.push(pkg);
    else return;
    this.creditedPaths?.push(path);
    this.creditedPkgs?.push(pkg);
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
