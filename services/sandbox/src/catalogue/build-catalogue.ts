/**
 * The image catalogue (vexxy.events.v1.ImageCatalogue): packages from every ecosystem reader
 * that finds its database, each package's files with symlinks resolved inside the image root,
 * every symlink of the image, the interpreter (ELF PT_INTERP or #!) of every executable file,
 * and /etc/os-release. Written by the sandbox as an artifact, so later stages never read the
 * sandbox's disk.
 */
import { create, toJsonString, fromJsonString } from "@bufbuild/protobuf";
import { CataloguedPackageSchema, ImageCatalogueSchema, type ImageCatalogue } from "@vexxy/proto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { DpkgReader } from "./dpkg-reader.js";
import type { OsRelease, PackageCatalogueReader } from "./package-catalogue-reader.js";
import { resolveInRoot } from "./resolve-in-root.js";
import { interpreterOf } from "./elf-interpreter.js";

export const CATALOGUE_READERS: readonly PackageCatalogueReader[] = Object.freeze([new DpkgReader()]);

async function osRelease(root: string): Promise<OsRelease> {
  const path = (await resolveInRoot(root, "/etc/os-release")) ?? (await resolveInRoot(root, "/usr/lib/os-release"));
  const text = path === undefined ? "" : await readFile(join(root, path), "utf8").catch(() => "");
  const field = (name: string): string => new RegExp(`^${name}=("?)([^"\n]*)\\1$`, "m").exec(text)?.[2] ?? "";
  return { id: field("ID"), versionId: field("VERSION_ID") };
}

interface Walked {
  readonly symlinks: Map<string, string>;
  readonly interpreters: Map<string, string>;
  fileCount: number;
}

async function walk(root: string, rel: string, out: Walked): Promise<void> {
  const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const imagePath = `${rel}/${e.name}`;
    if (e.isSymbolicLink()) {
      out.symlinks.set(imagePath, await readlink(join(root, imagePath)));
    } else if (e.isDirectory()) {
      await walk(root, imagePath, out);
    } else if (e.isFile()) {
      out.fileCount += 1;
      const st = await lstat(join(root, imagePath));
      if ((st.mode & 0o111) !== 0 || /\.so(\.|$)/.test(e.name)) {
        const interp = await interpreterOf(join(root, imagePath));
        if (interp !== undefined) out.interpreters.set(imagePath, interp);
      }
    }
  }
}

/** Builds the catalogue of an unpacked image root. */
export async function buildCatalogue(root: string, manifestDigest: string): Promise<ImageCatalogue> {
  const os = await osRelease(root);
  const walked: Walked = { symlinks: new Map(), interpreters: new Map(), fileCount: 0 };
  await walk(root, "", walked);
  const catalogue = create(ImageCatalogueSchema, {
    imageDigest: manifestDigest,
    distroId: os.id,
    distroVersionId: os.versionId,
    symlinks: Object.fromEntries(walked.symlinks),
    elfInterpreters: Object.fromEntries(walked.interpreters),
    fileCount: walked.fileCount,
  });
  for (const reader of CATALOGUE_READERS) {
    if (!(await reader.present(root))) continue;
    catalogue.ecosystems.push(reader.ecosystem);
    for (const p of await reader.read(root, os)) {
      const resolved: string[] = [];
      for (const f of p.files) {
        const r = await resolveInRoot(root, f);
        if (r !== undefined) resolved.push(r);
      }
      catalogue.packages.push(create(CataloguedPackageSchema, { ...p, files: [...p.files], resolvedFiles: [...new Set(resolved)] }));
    }
  }
  return catalogue;
}

/** The catalogue as protobuf JSON (the stored artifact). */
export function serializeCatalogue(catalogue: ImageCatalogue): string {
  return toJsonString(ImageCatalogueSchema, catalogue);
}

/** Parses a stored catalogue. */
export function parseCatalogue(json: string): ImageCatalogue {
  return fromJsonString(ImageCatalogueSchema, json);
}
