/** The seam for package databases: one reader per ecosystem (dpkg now; apk, rpm, Python, npm, jars, Go later). */

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
  readonly files: readonly string[];
}

export interface PackageCatalogueReader {
  /** The ecosystem this reader catalogues ("deb"). */
  readonly ecosystem: string;
  /** Whether the image has this ecosystem's database. */
  present(root: string): Promise<boolean>;
  /** Every installed package with its files. */
  read(root: string, os: OsRelease): Promise<RawPackage[]>;
}
