/**
 * What the traced run touched, per catalogued package: files executed, files opened
 * successfully, ELF interpreters (PT_INTERP) of executed binaries, and the gaps that stop a
 * package from being called untouched (relative opens that could be its files, executed
 * files whose interpreter the trace cannot show).
 */
import type { CataloguedFile, ExecutionProfile, FileAccess, FileIdentity, FileUse, ImageCatalogue } from "@vexxy/proto";
import { ImagePathResolver, normaliseAbsolute } from "./image-paths.js";
import { PackageFileIndex } from "./package-file-index.js";

/** One piece of evidence that a package's file was used. */
export interface Touch {
  /**
   * Legacy path-matched profiles: "executed", "file_opened", "elf_interpreter".
   * Profiles with uses: "code_executed" (exec, exec_script, and the PT_INTERP / "#!" chain),
   * "code_mapped" (mmap_exec), "file_read" (open).
   */
  readonly kind: "executed" | "file_opened" | "elf_interpreter" | "code_executed" | "code_mapped" | "file_read";
  /** The path the workload used (as traced). */
  readonly path: string;
  readonly detail: string;
}

/** A relative open that could have been one of a package's files. */
export interface RelativeSuspect {
  readonly relativePath: string;
  readonly packageFile: string;
}

/** The whole run, analysed once for every verdict. */
export interface ReachAnalysis {
  readonly index: PackageFileIndex;
  readonly resolver: ImagePathResolver;
  /** Package index -> evidence that it was used. */
  readonly touches: ReadonlyMap<number, readonly Touch[]>;
  /** Package index -> relative opens that could be its files. */
  readonly relativeSuspects: ReadonlyMap<number, readonly RelativeSuspect[]>;
  /** Executed paths with no known interpreter entry (a script's "#!" runs unseen). */
  readonly executedWithoutKnownInterpreter: readonly string[];
  /** Distinct executed paths. */
  readonly executed: readonly string[];
  /** Number of catalogued packages with at least one touch. */
  readonly touchedPackages: number;
  /** Uses the analysis could not attribute (each a sentence): the trace is incomplete for every package. */
  readonly unattributed: readonly string[];
  /** Code that ran and no package owns (image paths / labels), for ProfileSummary.unowned_code. */
  readonly unownedCode: readonly string[];
  /** Distinct files used successfully, by identity or path (summary counts). */
  readonly filesUsed: number;
  /** Distinct files executed (exec / exec_script). */
  readonly executablesRun: number;
  /** Distinct files mapped executable (mmap_exec). */
  readonly librariesMapped: number;
}

/** The map key of a file identity: `${major}:${minor}:${inode}`. */
export function identityKey(id: FileIdentity): string {
  return `${id.devMajor}:${id.devMinor}:${id.inode}`;
}

// Touches of one package searched one by one before a set is built for them.
const SEARCHED_TOUCHES = 32;

// An interpreter can itself be interpreted (a script run by a script); the chain is short.
const MAX_INTERPRETER_DEPTH = 4;

/** Whether an access counts as a successful use. Counts of zero mean "not recorded": counted, to fail closed. */
function succeeded(access: FileAccess): boolean {
  return access.countOk > 0n || access.countFailed === 0n;
}

/**
 * Analyses a profile against a catalogue.
 * Never throws on odd paths: unresolvable ones simply match nothing.
 */
export function analyseReach(catalogue: ImageCatalogue, profile: ExecutionProfile): ReachAnalysis {
  if (profile.uses.length > 0) return analyseUses(catalogue, profile);
  return analyseLegacy(catalogue, profile);
}

/**
 * Legacy profiles (no `uses`: a tracer older than identities): paths as traced, matched against
 * the package lists resolved inside the image; relative paths stay suspects (fail closed).
 */
function analyseLegacy(catalogue: ImageCatalogue, profile: ExecutionProfile): ReachAnalysis {
  const resolver = new ImagePathResolver(catalogue.symlinks);
  const index = new PackageFileIndex(catalogue, resolver);
  const interpreters = new Map<string, string>();
  for (const [binary, interpreter] of Object.entries(catalogue.elfInterpreters)) {
    for (const key of [normaliseAbsolute(binary), resolver.resolve(binary)]) {
      if (key !== undefined && key !== "") interpreters.set(key, interpreter);
    }
  }

  const touches = new Map<number, Touch[]>();
  const touch = (path: string, item: Touch): void => {
    for (const pkg of index.ownersOf(path)) {
      const list = touches.get(pkg) ?? [];
      if (!list.some((t) => t.kind === item.kind && t.path === item.path)) list.push(item);
      touches.set(pkg, list);
    }
  };

  const executed: string[] = [];
  const withoutInterpreter: string[] = [];
  for (const access of profile.files) {
    if (!succeeded(access) || !access.path.startsWith("/")) continue;
    const path = access.path;
    if (access.access === "exec") {
      if (!executed.includes(path)) executed.push(path);
      touch(path, { kind: "executed", path, detail: `executed ${formatCount(access)}` });
      let current = path;
      for (let depth = 0; depth < MAX_INTERPRETER_DEPTH; depth += 1) {
        const interpreter = interpreters.get(normaliseAbsolute(current)) ?? interpreters.get(resolver.resolve(current) ?? "");
        if (interpreter === undefined) {
          if (depth === 0 && !withoutInterpreter.includes(path)) withoutInterpreter.push(path);
          break;
        }
        touch(interpreter, { kind: "elf_interpreter", path: interpreter, detail: `interpreter (PT_INTERP) of executed ${current}` });
        current = interpreter;
      }
    } else {
      touch(path, { kind: "file_opened", path, detail: `opened successfully ${formatCount(access)}` });
    }
  }

  const relativeSuspects = new Map<number, RelativeSuspect[]>();
  // A relative path among the absolute ones (a relative execve, a tracer that could not
  // resolve) is as undecidable as an unresolved relative open.
  const relative = [...profile.unresolvedRelativeOpens, ...profile.files.filter((a) => !a.path.startsWith("/"))];
  for (const access of relative) {
    if (!succeeded(access)) continue;
    for (const { pkg, path } of index.ownersBySuffix(access.path)) {
      const list = relativeSuspects.get(pkg) ?? [];
      if (!list.some((s) => s.relativePath === access.path)) list.push({ relativePath: access.path, packageFile: path });
      relativeSuspects.set(pkg, list);
    }
  }

  return {
    index,
    resolver,
    touches,
    relativeSuspects,
    executedWithoutKnownInterpreter: withoutInterpreter,
    executed,
    touchedPackages: touches.size,
    unattributed: [],
    unownedCode: [],
    filesUsed: new Set(profile.files.filter(succeeded).map((a) => a.path)).size,
    executablesRun: executed.length,
    librariesMapped: 0,
  };
}

const CODE_KINDS = new Set(["elf_executable", "elf_shared_object", "script"]);

/**
 * Profiles with `uses` (the kernel's file objects).
 *
 * Matching: when both the profile and the catalogue carry identities ("inode"), a use belongs to
 * the owners of the catalogued file with the same (dev_major, dev_minor, inode); its path is a
 * label only, so a symlink made in /tmp, a /proc/self/fd or /dev/fd/N label, a relative,
 * truncated or non-ASCII label, or a hard-link name no package lists all reach the real owner.
 * Otherwise (Tracee over overlayfs reports "kernel_path", or the catalogue has no identities)
 * the kernel-resolved path is matched against every name of every catalogued file and every
 * package file resolved inside the image; a path that is not absolute or was truncated cannot
 * be matched and makes the trace incomplete. A profile that claims "inode" identity but has a
 * use without one is incomplete too (fail closed).
 *
 * Code created at run time (an exec or executable mapping whose identity matches no catalogued
 * file, e.g. a copy in tmpfs /tmp or a memfd) is listed as unowned code. Copying a package's file
 * into it required reading the original, which is attributed to its package as file_read
 * (affected). An EXEC of such a file also leaves every untouched package under investigation
 * (in an "inode" trace): its ELF interpreter, which may be any file of the image, is mapped by
 * the kernel without a syscall, and the catalogue cannot name it for a file it never saw. Open of an unmatched file (data, /proc) is not
 * a package's use.
 */
function analyseUses(catalogue: ImageCatalogue, profile: ExecutionProfile): ReachAnalysis {
  const resolver = new ImagePathResolver(catalogue.symlinks);
  const index = new PackageFileIndex(catalogue, resolver, { suffixLookups: false });
  const byIdentity = catalogue.identity === "inode" && profile.identity === "inode";
  const claimsIdentity = profile.identity === "inode";
  const filesById = new FilesByIdentity();
  if (byIdentity) for (const file of catalogue.files) if (file.id !== undefined) filesById.set(file.id, file);
  // Path lookups are needed for every use of a path-only trace, but in an "inode" trace only
  // for ELF interpreters: built on first use.
  let filesByPath: Map<string, CataloguedFile> | undefined;
  const fileAtPath = (path: string): CataloguedFile | undefined => {
    if (filesByPath === undefined) {
      filesByPath = new Map();
      for (const file of catalogue.files) for (const listed of file.paths) filesByPath.set(normaliseAbsolute(listed), file);
    }
    return filesByPath.get(path);
  };
  const interpreters = new Map<string, string>();
  for (const [binary, interpreter] of Object.entries(catalogue.elfInterpreters)) {
    for (const key of [normaliseAbsolute(binary), resolver.resolve(binary)]) {
      if (key !== undefined && key !== "") interpreters.set(key, interpreter);
    }
  }

  const touches = new Map<number, Touch[]>();
  // A touch is recorded once per package, kind and path. A short list is searched; a package
  // with more touches than that gets a set of "kind\0path" keys.
  const seenTouch = new Map<number, Set<string>>();
  const credit = (owners: readonly number[], item: Touch): void => {
    for (const pkg of owners) {
      const list = touches.get(pkg);
      if (list === undefined) {
        touches.set(pkg, [item]);
        continue;
      }
      if (list.length < SEARCHED_TOUCHES) {
        if (list.some((t) => t.path === item.path && t.kind === item.kind)) continue;
      } else {
        let seen = seenTouch.get(pkg);
        if (seen === undefined) {
          seen = new Set(list.map((t) => `${t.kind}\u0000${t.path}`));
          seenTouch.set(pkg, seen);
        }
        const key = `${item.kind}\u0000${item.path}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      list.push(item);
    }
  };
  // Owners of a path inside the image: the catalogued file's owners and the package lists'
  // (the lists are read-only: they may be the catalogue's or the index's own).
  const ownersOfPath = (path: string, normal = normaliseAbsolute(path)): { owners: readonly number[]; file: CataloguedFile | undefined } => {
    const resolved = normal !== "" ? resolver.resolveNormal(normal) : undefined;
    const file = fileAtPath(normal) ?? (resolved !== undefined ? fileAtPath(resolved) : undefined);
    const listed = index.ownersOfSpellings(normal, resolved);
    if (file === undefined || file.owners.length === 0) return { owners: listed, file };
    if (listed.length * file.owners.length <= 64 && listed.every((pkg) => file.owners.includes(pkg))) return { owners: file.owners, file };
    const owners = new Set<number>(file.owners);
    for (const pkg of listed) owners.add(pkg);
    return { owners: [...owners], file };
  };

  const unattributed: string[] = [];
  const unowned = new Set<string>();
  const executed: string[] = [];
  const executedSet = new Set<string>();
  const withoutInterpreter: string[] = [];
  const withoutInterpreterSet = new Set<string>();
  // Distinct files, by catalogued file (identity or path match) or else by key.
  const used = new Set<CataloguedFile | string>();
  const execs = new Set<CataloguedFile | string>();
  const maps = new Set<CataloguedFile | string>();
  let execIdentityMatches = 0;

  for (const use of profile.uses) {
    const label = use.path !== "" ? use.path : "(no path label)";
    const isCode = use.access === "exec" || use.access === "exec_script" || use.access === "mmap_exec";
    let owners: readonly number[] = [];
    let file: CataloguedFile | undefined;
    let names: readonly string[] = [];
    let key: CataloguedFile | string;
    if (claimsIdentity && use.id === undefined) {
      unattributed.push(`${use.access} of ${label} carries no file identity in an "inode" trace`);
      continue;
    }
    if (byIdentity && use.id !== undefined) {
      file = filesById.get(use.id);
      key = file ?? identityKey(use.id);
      if (file !== undefined && use.access === "exec") execIdentityMatches += 1;
      owners = file?.owners ?? [];
      names = file?.paths ?? [];
    } else {
      if (!use.path.startsWith("/") || use.pathTruncated) {
        unattributed.push(
          `${use.access} of ${label}: the path is ${use.pathTruncated ? "truncated" : "not absolute"} and the trace has no identity to match it by`,
        );
        continue;
      }
      key = normaliseAbsolute(use.path);
      const found = ownersOfPath(use.path, key);
      owners = found.owners;
      file = found.file;
      names = file?.paths.length ? file.paths : [use.path];
      if (file === undefined && owners.length === 0 && catalogue.files.length === 0) names = [use.path];
    }
    used.add(key);
    const shown = names[0] ?? label;
    const matched = file !== undefined || owners.length > 0;
    if (isCode && (!matched || (owners.length === 0 && (file === undefined || CODE_KINDS.has(file.kind))))) {
      unowned.add(matched ? shown : label);
    }
    // An executable created at run time (its identity is no file of the image) may name an ELF
    // interpreter (PT_INTERP) in the image, which the kernel maps at exec without any syscall the
    // tracer sees, and the catalogue cannot know that interpreter: fail closed.
    if (byIdentity && use.access === "exec" && file === undefined) {
      unattributed.push(
        `exec of ${label}, a file created at run time: the kernel may have loaded an ELF interpreter from the image for it without a syscall the tracer sees`,
      );
    }
    // A touch only for a use with owners (credit() would drop it).
    if (use.access === "mmap_exec") {
      maps.add(key);
      if (owners.length > 0) credit(owners, { kind: "code_mapped", path: shown, detail: useDetail("mapped executable", use, shown, label) });
      continue;
    }
    if (use.access === "open") {
      if (owners.length > 0) credit(owners, { kind: "file_read", path: shown, detail: useDetail("opened successfully", use, shown, label) });
      continue;
    }
    execs.add(key);
    if (!executedSet.has(shown)) {
      executedSet.add(shown);
      executed.push(shown);
    }
    credit(owners, {
      kind: "code_executed",
      path: shown,
      detail: useDetail(use.access === "exec_script" ? "executed as a script" : "executed", use, shown, label),
    });
    // The interpreter chain (PT_INTERP, or "#!" of a script whose interpreter is a script).
    let chain: readonly string[] = names.length > 0 ? names : [use.path];
    let found = false;
    for (let depth = 0; depth < MAX_INTERPRETER_DEPTH; depth += 1) {
      let interpreter: string | undefined;
      for (const name of chain) {
        interpreter = interpreters.get(normaliseAbsolute(name)) ?? interpreters.get(resolver.resolve(name) ?? "");
        if (interpreter !== undefined) break;
      }
      if (interpreter === undefined) break;
      found = true;
      const target = ownersOfPath(interpreter);
      credit(target.owners, { kind: "code_executed", path: interpreter, detail: `interpreter of executed ${chain[0] ?? label}` });
      chain = target.file?.paths.length ? target.file.paths : [interpreter];
    }
    if (!found && use.access !== "exec_script" && !(file !== undefined && file.kind === "elf_executable")) {
      // A "#!" script run by exec whose interpreter the catalogue does not name.
      if (!withoutInterpreterSet.has(shown)) {
        withoutInterpreterSet.add(shown);
        withoutInterpreter.push(shown);
      }
    }
  }

  // The workload's first exec is the image's entrypoint, a file of the image: when no executed
  // file matches the catalogue by identity, the tracer's and the catalogue's identities do not
  // describe the same filesystem (e.g. the root was copied or overlaid after cataloguing), and
  // every "untouched" package would be a guess.
  if (byIdentity && catalogue.files.length > 0 && execIdentityMatches === 0 && profile.uses.some((u) => u.access === "exec")) {
    unattributed.push("no executed file matched the image catalogue by (device, inode): the trace's and the catalogue's file identities disagree");
  }
  return {
    index,
    resolver,
    touches,
    relativeSuspects: new Map(),
    executedWithoutKnownInterpreter: withoutInterpreter,
    executed,
    touchedPackages: touches.size,
    unattributed,
    unownedCode: [...unowned].sort(),
    filesUsed: used.size,
    executablesRun: execs.size,
    librariesMapped: maps.size,
  };
}

/**
 * Catalogued files by (device, inode): one map per device, keyed by the inode as a number
 * (as a bigint beyond 2^53), so a lookup builds no string.
 */
class FilesByIdentity {
  private readonly devices = new Map<string, Map<number | bigint, CataloguedFile>>();
  private lastMajor = -1;
  private lastMinor = -1;
  private last: Map<number | bigint, CataloguedFile> | undefined;

  set(id: FileIdentity, file: CataloguedFile): void {
    let device = this.device(id);
    if (device === undefined) {
      device = new Map();
      this.devices.set(`${id.devMajor}:${id.devMinor}`, device);
      this.last = device;
    }
    device.set(inodeKey(id.inode), file);
  }

  get(id: FileIdentity): CataloguedFile | undefined {
    return this.device(id)?.get(inodeKey(id.inode));
  }

  private device(id: FileIdentity): Map<number | bigint, CataloguedFile> | undefined {
    if (id.devMajor !== this.lastMajor || id.devMinor !== this.lastMinor) {
      this.lastMajor = id.devMajor;
      this.lastMinor = id.devMinor;
      this.last = this.devices.get(`${id.devMajor}:${id.devMinor}`);
    }
    return this.last;
  }
}

function inodeKey(inode: bigint): number | bigint {
  return inode <= MAX_SAFE_INODE ? Number(inode) : inode;
}

const MAX_SAFE_INODE = BigInt(Number.MAX_SAFE_INTEGER);

// "<verb> once" and "<verb> (count not recorded)", made once per verb: most uses have one of them.
const COMMON_DETAILS = new Map<string, readonly [string, string]>();

/** A use's detail: "<verb> <count>" and, when the path shown is not the traced label, " (as <label>)". */
function useDetail(verb: string, use: FileUse, shown: string, label: string): string {
  if (shown === label && (use.count === 0n || use.count === 1n)) {
    let common = COMMON_DETAILS.get(verb);
    if (common === undefined) {
      common = [`${verb} (count not recorded)`, `${verb} once`];
      COMMON_DETAILS.set(verb, common);
    }
    return common[use.count === 0n ? 0 : 1];
  }
  return `${verb} ${formatUseCount(use)}${shown !== label ? ` (as ${label})` : ""}`;
}

function formatUseCount(use: FileUse): string {
  if (use.count === 0n) return "(count not recorded)";
  return use.count === 1n ? "once" : `${use.count} times`;
}

function formatCount(access: FileAccess): string {
  const ok = access.countOk;
  if (ok === 0n) return "(count not recorded)";
  return ok === 1n ? "once" : `${ok} times`;
}
