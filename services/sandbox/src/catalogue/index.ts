/** The image catalogue: one reader per package ecosystem, file identities, symlinks and interpreters. */
export { buildCatalogue, serializeCatalogue, parseCatalogue, kernelDevice, CATALOGUE_READERS, UNOWNED_RULE } from "./build-catalogue.js";
export { resolveInRoot, openInRoot, readFileInRoot } from "./resolve-in-root.js";
export { interpreterOf, inspectOpenFile, type FileKind, type FileInspection } from "./elf-interpreter.js";
export { DpkgReader, HostileDpkgDatabaseError, dpkgInstallState, parseDiversions, type Diversion } from "./dpkg-reader.js";
export type { PackageCatalogueReader, RawPackage, OsRelease, CatalogueReading } from "./package-catalogue-reader.js";
