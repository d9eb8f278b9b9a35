/** The image catalogue: one reader per package ecosystem, symlinks and interpreters. */
export { buildCatalogue, serializeCatalogue, parseCatalogue, CATALOGUE_READERS } from "./build-catalogue.js";
export { resolveInRoot } from "./resolve-in-root.js";
export { interpreterOf } from "./elf-interpreter.js";
export { DpkgReader } from "./dpkg-reader.js";
export type { PackageCatalogueReader, RawPackage, OsRelease } from "./package-catalogue-reader.js";
