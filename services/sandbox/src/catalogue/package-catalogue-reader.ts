/** The seam for package databases: one reader per ecosystem (dpkg now; apk, rpm, Python, npm, jars, Go later). */
import type { InRootCache } from "./resolve-in-root.js";

/** The distribution as /etc/os-release (or /usr/lib/os-release) names it. */
export interface OsRelease {
  readonly id: string;
  readonly versionId: string;
}

/** A package as its database lists it, before symlink resolution. */
export interface RawPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly type: string;
  readonly purl: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  /** "installed", or "partial" when files may be present but the package is not fully set up. */
  readonly installState: "installed" | "partial";
  /** Image-absolute paths the package owns, with diversions already applied. */
  readonly files: readonly string[];
  /** The subset of files that a diversion moved here (owner_rule "diversion"). */
  readonly divertedFiles: readonly string[];
}

/** What one reader found in the image. */
export interface CatalogueReading {
  readonly packages: readonly RawPackage[];
  /** Diversions applied, as "from -> to (by package)". */
  readonly diversions: readonly string[];
}

/** Reads one ecosystem's package database from an unpacked image root, inside that root only. */
export interface PackageCatalogueReader {
  /** The ecosystem this reader catalogues ("deb"). */
  readonly ecosystem: string;
  /** Whether the image has this ecosystem's database (resolved inside the image root). */
  present(root: string): Promise<boolean>;
  /**
   * Every present package with its files; throws a named error when the database is hostile.
   * `cache` shares lstat results of the same tree between resolutions (see resolveInRoot).
   */
  read(root: string, os: OsRelease, cache?: InRootCache): Promise<CatalogueReading>;
}
