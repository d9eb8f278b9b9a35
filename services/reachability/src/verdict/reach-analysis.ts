/**
 * What the traced run touched, per catalogued package: files executed, files opened
 * successfully, ELF interpreters (PT_INTERP) of executed binaries, and the gaps that stop a
 * package from being called untouched (relative opens that could be its files, executed
 * files whose interpreter the trace cannot show).
 */
import type { ExecutionProfile, FileAccess, ImageCatalogue } from "@vexxy/proto";
import { ImagePathResolver, normaliseAbsolute } from "./image-paths.js";
import { PackageFileIndex } from "./package-file-index.js";

/** One piece of evidence that a package's file was used. */
export interface Touch {
  /** "executed", "file_opened", "elf_interpreter". */
  readonly kind: "executed" | "file_opened" | "elf_interpreter";
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
}

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
  };
}

function formatCount(access: FileAccess): string {
  const ok = access.countOk;
  if (ok === 0n) return "(count not recorded)";
  return ok === 1n ? "once" : `${ok} times`;
}
