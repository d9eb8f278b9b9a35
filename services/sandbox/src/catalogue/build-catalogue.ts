/**
 * The image catalogue (vexxy.events.v1.ImageCatalogue). Every regular file of the unpacked root
 * becomes one CataloguedFile keyed by the kernel's identity of it (device split as the kernel
 * splits s_dev, inode), with all its hard-link names, its kind, its interpreter, and the packages
 * that own it. Package file lists are resolved inside the image root to the inode they name and
 * ownership is attached to that inode, so every hard-link name and every symlink name reaches the
 * same owners. Ownership rules, in order (CataloguedFile.owner_rule):
 *   "diversion"              a package owns the inode through a dpkg diversion (listed `from`, lives at `to`);
 *   "package_list"           every name of the inode is a listed name of an owner (after symlink resolution);
 *   "hard_link"              owned, and some name of the inode is reached only as a hard link of a listed name;
 *   "python_bytecode_source" dir/__pycache__/X.<tag>.pyc or dir/X.pyc, owned by the owners of dir/X.py;
 *   ""                       unowned (see UNOWNED_RULE).
 * The path-based fields (packages[].files/resolved_files, symlinks, elf_interpreters) stay for
 * deployments whose tracer reports paths (Tracee on an overlay). Every read inside the image is
 * resolved inside the root and opened with O_NOFOLLOW; the walk never descends a symlink.
 */
import { create, toJsonString, fromJsonString } from "@bufbuild/protobuf";
import {
  CataloguedFileSchema,
  CataloguedPackageSchema,
  FileIdentitySchema,
  ImageCatalogueSchema,
  type CataloguedFile,
  type ImageCatalogue,
} from "@vexxy/proto";
import { constants } from "node:fs";
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { DpkgReader } from "./dpkg-reader.js";
import type { OsRelease, PackageCatalogueReader } from "./package-catalogue-reader.js";
import { readFileInRoot, resolveInRoot, type InRootCache } from "./resolve-in-root.js";
import { inspectOpenFile, type FileKind } from "./elf-interpreter.js";

/** Every package-database reader the catalogue consults, in order. */
export const CATALOGUE_READERS: readonly PackageCatalogueReader[] = Object.freeze([new DpkgReader()]);

/** ImageCatalogue.unowned_rule: how files no package owns are treated. */
export const UNOWNED_RULE =
  'A regular file no package database owns (owners empty, owner_rule "") is the image\'s own content ' +
  "(the application and its data), not a gap in the catalogue: it decides no package's verdict. " +
  "Reachability lists every unowned elf_executable, elf_shared_object and script that ran " +
  "(ProfileSummary.unowned_code), because code of unknown origin that ran may itself be vulnerable.";

/** How many files are inspected at once (open + header read). */
const INSPECT_CONCURRENCY = 32;

/** Splits a userspace (glibc-encoded) st_dev into the kernel's (major, minor). */
export function kernelDevice(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

async function osRelease(root: string): Promise<OsRelease> {
  const text = (await readFileInRoot(root, "/etc/os-release")) ?? (await readFileInRoot(root, "/usr/lib/os-release")) ?? "";
  const field = (name: string): string => new RegExp(`^${name}=("?)([^"\n]*)\\1$`, "m").exec(text)?.[2] ?? "";
  return { id: field("ID"), versionId: field("VERSION_ID") };
}

interface Inode {
  readonly key: string;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly paths: string[];
  kind: FileKind;
  interpreter: string | undefined;
  readonly owners: Set<number>;
  readonly listedNames: Set<string>;
  diverted: boolean;
}

interface Walked {
  readonly symlinks: Map<string, string>;
  readonly inodes: Map<string, Inode>;
  readonly byPath: Map<string, Inode>;
  /** Every entry the walk saw, for resolveInRoot (keys are root-relative, no leading slash). */
  readonly cache: InRootCache;
}

async function walk(root: string, rel: string, out: Walked): Promise<void> {
  const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const imagePath = `${rel}/${e.name}`;
    const key = imagePath.slice(1);
    if (e.isSymbolicLink()) {
      const target = await readlink(join(root, imagePath));
      out.symlinks.set(imagePath, target);
      out.cache.set(key, { type: "link", target });
    } else if (e.isDirectory()) {
      out.cache.set(key, { type: "dir" });
      await walk(root, imagePath, out);
    } else if (!e.isFile()) {
      out.cache.set(key, { type: "other" });
    } else {
      const st = await lstat(join(root, imagePath), { bigint: true });
      if (!st.isFile()) continue;
      out.cache.set(key, { type: "file" });
      const id = `${st.dev}:${st.ino}`;
      let inode = out.inodes.get(id);
      if (inode === undefined) {
        inode = {
          key: id,
          dev: st.dev,
          ino: st.ino,
          paths: [],
          kind: "other",
          interpreter: undefined,
          owners: new Set(),
          listedNames: new Set(),
          diverted: false,
        };
        out.inodes.set(id, inode);
      }
      inode.paths.push(imagePath);
      out.byPath.set(imagePath, inode);
    }
  }
}

async function inspect(root: string, inode: Inode): Promise<void> {
  const path = inode.paths[0]!;
  // The walk reached this name through real directories only; O_NOFOLLOW refuses a final symlink.
  const fh = await open(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (fh === undefined) return;
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || st.ino !== inode.ino || st.dev !== inode.dev) return;
    const r = await inspectOpenFile(fh, posix.basename(path));
    inode.kind = r.kind;
    inode.interpreter = r.interpreter;
  } catch {
    // An unreadable file keeps kind "other" and no interpreter.
  } finally {
    await fh.close();
  }
}

async function inspectAll(root: string, inodes: readonly Inode[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inodes.length) await inspect(root, inodes[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(INSPECT_CONCURRENCY, inodes.length) }, worker));
}

/** The source X.py a byte-code file was compiled from, or undefined when the name is no byte-code name. */
function pythonSourceOf(path: string): string | undefined {
  const m = /^(.*)\/__pycache__\/([^/]+?)\.[^./]+(?:\.opt-\d+)?\.pyc$/.exec(path);
  if (m !== null) return `${m[1]}/${m[2]}.py`;
  if (path.endsWith(".pyc")) return `${path.slice(0, -4)}.py`;
  return undefined;
}

function ownerRule(inode: Inode): string {
  if (inode.owners.size === 0) return "";
  if (inode.diverted) return "diversion";
  return inode.paths.every((p) => inode.listedNames.has(p)) ? "package_list" : "hard_link";
}

/**
 * Builds the catalogue of an unpacked image root. Throws HostileDpkgDatabaseError (from the
 * dpkg reader) when a package database names something that could lead outside it.
 */
export async function buildCatalogue(root: string, manifestDigest: string): Promise<ImageCatalogue> {
  const os = await osRelease(root);
  const walked: Walked = { symlinks: new Map(), inodes: new Map(), byPath: new Map(), cache: new Map() };
  await walk(root, "", walked);
  const inodes = [...walked.inodes.values()];
  await inspectAll(root, inodes);
  const catalogue = create(ImageCatalogueSchema, {
    imageDigest: manifestDigest,
    distroId: os.id,
    distroVersionId: os.versionId,
    symlinks: Object.fromEntries(walked.symlinks),
    fileCount: walked.byPath.size,
    identity: "inode",
    unownedRule: UNOWNED_RULE,
  });
  for (const inode of inodes) {
    if (inode.interpreter === undefined) continue;
    for (const p of inode.paths) catalogue.elfInterpreters[p] = inode.interpreter;
  }
  for (const reader of CATALOGUE_READERS) {
    if (!(await reader.present(root))) continue;
    catalogue.ecosystems.push(reader.ecosystem);
    const reading = await reader.read(root, os, walked.cache);
    catalogue.diversions.push(...reading.diversions);
    for (const p of reading.packages) {
      const index = catalogue.packages.length;
      const diverted = new Set(p.divertedFiles);
      const resolved: string[] = [];
      for (const f of p.files) {
        const r = await resolveInRoot(root, f, walked.cache);
        if (r === undefined) continue;
        resolved.push(r);
        const inode = walked.byPath.get(r);
        if (inode === undefined) continue;
        inode.owners.add(index);
        inode.listedNames.add(r);
        if (diverted.has(f)) inode.diverted = true;
      }
      const { divertedFiles: _d, ...fields } = p;
      catalogue.packages.push(create(CataloguedPackageSchema, { ...fields, files: [...p.files], resolvedFiles: [...new Set(resolved)] }));
    }
  }
  const bytecodeOwners = new Map<Inode, Set<number>>();
  for (const inode of inodes) {
    if (inode.owners.size > 0) continue;
    for (const p of inode.paths) {
      const source = pythonSourceOf(p);
      if (source === undefined) continue;
      const r = await resolveInRoot(root, source, walked.cache);
      const src = r === undefined ? undefined : walked.byPath.get(r);
      if (src !== undefined && src.owners.size > 0) bytecodeOwners.set(inode, src.owners);
    }
  }
  for (const inode of inodes) {
    const viaSource = bytecodeOwners.get(inode);
    catalogue.files.push(toCataloguedFile(inode, viaSource));
  }
  return catalogue;
}

function toCataloguedFile(inode: Inode, viaSource: ReadonlySet<number> | undefined): CataloguedFile {
  const { major, minor } = kernelDevice(inode.dev);
  const owners = viaSource ?? inode.owners;
  return create(CataloguedFileSchema, {
    id: create(FileIdentitySchema, { devMajor: major, devMinor: minor, inode: inode.ino }),
    paths: [...inode.paths].sort(),
    owners: [...owners].sort((a, b) => a - b),
    kind: inode.kind,
    ownerRule: viaSource !== undefined ? "python_bytecode_source" : ownerRule(inode),
  });
}

/** The catalogue as protobuf JSON (the stored artifact). */
export function serializeCatalogue(catalogue: ImageCatalogue): string {
  return toJsonString(ImageCatalogueSchema, catalogue);
}

/** Parses a stored catalogue; throws when the JSON is not an ImageCatalogue. */
export function parseCatalogue(json: string): ImageCatalogue {
  return fromJsonString(ImageCatalogueSchema, json);
}
