/**
 * Seeded generators of odd but valid engine inputs (catalogue, profile, scan), for the guard
 * that a faster engine gives the very verdicts the earlier one gave (reach-equivalence.test.ts).
 * Each case mixes what the rules look at: merged /usr and soname links, alternatives, link
 * loops, ".." targets, unnormalised spellings, hard-link groups, unowned code, ELF interpreter
 * chains, packages with no file list or a partial state, several versions and architectures of
 * one name, uncatalogued ecosystems, purls missing or malformed, epochs, repeated rows with
 * aliases; and profiles of every kind: legacy path lists, "inode" uses (unknown and missing
 * identities, runtime-created executables) and "kernel_path" uses (relative, truncated).
 * The demo image's real catalogue is one of the bases.
 */
import { create, toJson } from "@bufbuild/protobuf";
import {
  CataloguedFileSchema,
  CataloguedPackageSchema,
  ExecutionProfileSchema,
  ExerciseStepSchema,
  FileAccessSchema,
  FileIdentitySchema,
  FileUseSchema,
  ImageCatalogueSchema,
  ProfileSummarySchema,
  SyscallAttemptSchema,
  VerdictSchema,
  WorkloadOutcome,
  type CataloguedFile,
  type CataloguedPackage,
  type ExecutionProfile,
  type FileAccess,
  type FileUse,
  type ImageCatalogue,
  type ProfileSummary,
  type Verdict,
} from "@vexxy/proto";
import type { ScanFinding, VulnerabilityReport } from "@vexxy/scan-report";
import { demoCatalogue } from "./helpers.js";

/** One generated case. */
export interface EquivalenceCase {
  readonly name: string;
  readonly catalogue: ImageCatalogue;
  readonly profile: ExecutionProfile;
  readonly report: VulnerabilityReport;
}

type Random = () => number;

/** mulberry32: a small seeded PRNG, so a case is the same on every run. */
function seeded(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: Random, list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
const chance = (rnd: Random, p: number): boolean => rnd() < p;

const NAMES = ["libfoo", "libbar", "coreutils", "dash", "bash", "python3.11", "perl-base", "tar", "libssl3", "zlib1g", "openssl", "curl", "gawk", "mawk"];
const DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/etc", "/usr/share/doc", "/usr/libexec", "/opt/app"];
const BASENAMES = ["sh", "bash", "python3", "perl", "env", "awk", "tool", "run", "libfoo.so.1", "libfoo.so.1.2.3", "libbar.so", "conf", "README", "data.bin"];
const ACCESSES = ["open", "exec", "exec_script", "mmap_exec"] as const;
const OUTCOMES = [
  WorkloadOutcome.EXITED_OK,
  WorkloadOutcome.EXITED_OK,
  WorkloadOutcome.TIMEOUT_RUNNING,
  WorkloadOutcome.EXITED_ERROR,
  WorkloadOutcome.LIMIT_KILLED,
  WorkloadOutcome.UNSPECIFIED,
];

/** An unnormalised spelling of an absolute path (double slashes, "./", a trailing slash). */
function respell(rnd: Random, path: string): string {
  const r = rnd();
  if (r < 0.6) return path;
  if (r < 0.7) return path.replace("/", "//");
  if (r < 0.8) return path.replace(/\/([^/]+)$/, "/./$1");
  if (r < 0.85) return `${path}/`;
  if (r < 0.9 && path.startsWith("/usr/")) return path.slice(4);
  return path.replace(/^\/usr\/lib\//, "/lib/");
}

function syntheticPackages(rnd: Random, count: number): CataloguedPackage[] {
  const packages: CataloguedPackage[] = [];
  for (let i = 0; i < count; i += 1) {
    const name = chance(rnd, 0.7) ? `${pick(rnd, NAMES)}${chance(rnd, 0.5) ? "" : `-${i}`}` : `pkg-${i}`;
    const version = pick(rnd, ["1.0-1", "2:1.0-1", "1.0-2", "0:1.0-1", "3.1"]);
    const arch = pick(rnd, ["amd64", "amd64", "all", "i386", ""]);
    const type = pick(rnd, ["deb", "deb", "deb", "deb", "python", "npm", "", "rpm"]);
    const files: string[] = [];
    const fileCount = chance(rnd, 0.1) ? 0 : 1 + Math.floor(rnd() * 8);
    for (let f = 0; f < fileCount; f += 1) files.push(respell(rnd, `${pick(rnd, DIRS)}/${chance(rnd, 0.5) ? pick(rnd, BASENAMES) : `${name}-f${f}`}`));
    const resolvedFiles = chance(rnd, 0.3) ? files.slice(0, 2).map((f) => f.replace(/^\/bin\//, "/usr/bin/").replace(/^\/lib\//, "/usr/lib/")) : [];
    const purl =
      type === ""
        ? pick(rnd, [`pkg:deb/debian/${name}@${version}?arch=${arch || "amd64"}`, "", "not a purl"])
        : chance(rnd, 0.2)
          ? ""
          : `pkg:${type === "python" ? "pypi" : type}/${type === "deb" ? "debian/" : ""}${name}@${version}${arch !== "" && chance(rnd, 0.7) ? `?arch=${arch}` : ""}`;
    packages.push(
      create(CataloguedPackageSchema, {
        name: chance(rnd, 0.05) ? "" : name,
        version: chance(rnd, 0.05) ? "" : version,
        architecture: arch,
        type,
        purl,
        files,
        resolvedFiles,
        installState: chance(rnd, 0.08) ? "partial" : chance(rnd, 0.5) ? "installed" : "",
      }),
    );
  }
  return packages;
}

function syntheticLinks(rnd: Random): Record<string, string> {
  const links: Record<string, string> = { "/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64", "/sbin": "usr/sbin" };
  links["/usr/lib/x86_64-linux-gnu/libfoo.so.1"] = "libfoo.so.1.2.3";
  links["/usr/lib64/ld-linux-x86-64.so.2"] = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
  links["/usr/bin/sh"] = "dash";
  links["/usr/bin/awk"] = "/etc/alternatives/awk";
  links["/etc/alternatives/awk"] = "/usr/bin/mawk";
  links["/usr/bin/python3"] = "python3.11";
  links["/opt/app/loop-a"] = "loop-b";
  links["/opt/app/loop-b"] = "./loop-a";
  links["/opt/app/up"] = "../../usr/bin/tool";
  links["/opt/app/lib"] = "/usr/lib/x86_64-linux-gnu/";
  links["/usr/libexec//tool/"] = "../bin/tool";
  if (chance(rnd, 0.5)) links["/usr/bin/env"] = "/../../usr/bin/coreutils";
  if (chance(rnd, 0.3)) links["/etc"] = "/opt/etc";
  return links;
}

function syntheticInterpreters(rnd: Random, paths: readonly string[]): Record<string, string> {
  const interpreters: Record<string, string> = {
    "/usr/bin/dash": "/lib64/ld-linux-x86-64.so.2",
    "/usr/bin/run": "/usr/bin/sh",
    "/opt/app/run": "/usr/bin/python3",
    "/usr/bin/python3.11": "/lib64/ld-linux-x86-64.so.2",
    "/usr/bin/tool": "/bin/sh",
  };
  for (const path of paths) if (chance(rnd, 0.3)) interpreters[respell(rnd, path)] = pick(rnd, ["/lib64/ld-linux-x86-64.so.2", "/usr/bin/sh", "/bin/bash"]);
  return interpreters;
}

/** Catalogued files by identity: each listed path (some hard-linked together), plus unowned files. */
function syntheticFiles(rnd: Random, packages: readonly CataloguedPackage[]): CataloguedFile[] {
  const byPath = new Map<string, { paths: string[]; owners: number[] }>();
  packages.forEach((pkg, index) => {
    for (const listed of pkg.files) {
      const path = listed
        .replace(/\/+/g, "/")
        .replace(/\/\.\//g, "/")
        .replace(/(.)\/$/, "$1");
      const entry = byPath.get(path) ?? { paths: [path], owners: [] };
      if (!entry.owners.includes(index) && chance(rnd, 0.95)) entry.owners.push(index);
      byPath.set(path, entry);
    }
  });
  const entries = [...byPath.values()];
  // Hard links: a name no package lists joins another file's group.
  for (const entry of entries) if (chance(rnd, 0.1)) entry.paths.push(`/usr/local/bin/link-${entry.paths.length}-${Math.floor(rnd() * 1000)}`);
  for (let u = 0; u < 5; u += 1) entries.push({ paths: [`/usr/local/bin/unowned-${u}`], owners: [] });
  entries.push({ paths: ["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"], owners: [] });
  return entries.map((entry, i) =>
    create(CataloguedFileSchema, {
      id: create(FileIdentitySchema, { devMajor: 8, devMinor: chance(rnd, 0.02) ? 2 : 1, inode: BigInt(1000 + i) }),
      paths: entry.paths,
      owners: entry.owners,
      kind: pick(rnd, ["elf_executable", "elf_shared_object", "script", "other", "python_bytecode"]),
      ownerRule: "package_list",
    }),
  );
}

function legacyAccesses(rnd: Random, paths: readonly string[], count: number): FileAccess[] {
  const list: FileAccess[] = [];
  for (let i = 0; i < count; i += 1) {
    const r = rnd();
    const path =
      r < 0.75 ? respell(rnd, pick(rnd, paths)) : r < 0.85 ? pick(rnd, ["./tool", "../lib/conf", "README", "..", "a/../b/conf"]) : `/proc/self/fd/${i}`;
    list.push(
      create(FileAccessSchema, {
        path,
        access: chance(rnd, 0.3) ? "exec" : "open",
        countOk: BigInt(pick(rnd, [0, 1, 1, 2, 7])),
        countFailed: BigInt(pick(rnd, [0, 0, 1])),
        firstSeenNs: BigInt(i + 1),
        firstPid: 1,
      }),
    );
  }
  return list;
}

function uses(rnd: Random, files: readonly CataloguedFile[], paths: readonly string[], count: number, identity: boolean, clean: boolean): FileUse[] {
  const list: FileUse[] = [];
  for (let i = 0; i < count; i += 1) {
    const file = pick(rnd, files);
    const r = rnd();
    const id =
      identity && (clean || !chance(rnd, 0.03))
        ? clean || r < 0.9
          ? file.id
          : create(FileIdentitySchema, { devMajor: 0, devMinor: 40, inode: BigInt(90_000 + i) })
        : chance(rnd, 0.1)
          ? file.id
          : undefined;
    const label = chance(rnd, 0.8) ? respell(rnd, pick(rnd, chance(rnd, 0.5) ? file.paths : paths)) : pick(rnd, ["/tmp/copy", "tool", "/dev/fd/3", ""]);
    list.push(
      create(FileUseSchema, {
        ...(id !== undefined ? { id } : {}),
        path: label,
        access: pick(rnd, ACCESSES),
        count: BigInt(pick(rnd, [0, 1, 3])),
        firstSeenNs: BigInt(i + 1),
        firstPid: 1,
        pathTruncated: !clean && chance(rnd, 0.03),
      }),
    );
  }
  return list;
}

function findings(rnd: Random, packages: readonly CataloguedPackage[], count: number): ScanFinding[] {
  const list: ScanFinding[] = [];
  for (let i = 0; i < count; i += 1) {
    const pkg = chance(rnd, 0.85) && packages.length > 0 ? pick(rnd, packages) : undefined;
    const name = pkg !== undefined && pkg.name !== "" ? (chance(rnd, 0.1) ? pkg.name.toUpperCase() : pkg.name) : `absent-${i % 7}`;
    const version = pkg !== undefined ? pick(rnd, [pkg.version, pkg.version, pkg.version.replace(/^\d+:/, ""), "9.9-9", ""]) : "1.0";
    const type = pick(rnd, ["deb", "deb", "deb", pkg?.type ?? "", "python", "npm", "java-archive", ""]);
    const purl = pick(rnd, [
      pkg?.purl ?? "",
      `pkg:deb/debian/${name}@${version}?arch=${pick(rnd, ["amd64", "i386", "all"])}`,
      "",
      `pkg:deb/${name}`,
      "pkg:%%%",
    ]);
    const vulnerabilityId = `CVE-2099-${String(Math.floor(rnd() * count * 0.8)).padStart(4, "0")}`;
    list.push({
      vulnerabilityId,
      aliases: chance(rnd, 0.3) ? [`GHSA-${Math.floor(rnd() * 5)}`] : [],
      severity: pick(rnd, ["High", "Low", ""]),
      pkg: { name, version, type: type === "" && purl === "" ? "deb" : type, purl, locations: [] },
    });
  }
  return list;
}

function profileOf(
  rnd: Random,
  kind: "legacy" | "inode" | "kernel_path",
  files: readonly CataloguedFile[],
  paths: readonly string[],
  clean: boolean,
): ExecutionProfile {
  const size = 20 + Math.floor(rnd() * 80);
  const exercise = chance(rnd, 0.3)
    ? []
    : [
        create(ExerciseStepSchema, { name: "entrypoint", ok: true, detail: chance(rnd, 0.5) ? "exit 0" : "" }),
        ...(chance(rnd, 0.6) ? [create(ExerciseStepSchema, { name: "test_script", ok: chance(rnd, 0.7), detail: "" })] : []),
      ];
  return create(ExecutionProfileSchema, {
    jobId: "equivalence",
    attempt: 1,
    tracer: pick(rnd, ["bpftrace", "strace", ""]),
    complete: clean || chance(rnd, 0.8),
    lossReasons: !clean && chance(rnd, 0.2) ? [pick(rnd, ["unattributed", "map_full:opens", "scope_left"])] : [],
    outcome: clean ? WorkloadOutcome.EXITED_OK : pick(rnd, OUTCOMES),
    durationSeconds: Math.floor(rnd() * 600) / 10,
    files: kind === "legacy" ? legacyAccesses(rnd, paths, size) : [],
    unresolvedRelativeOpens: kind === "legacy" && chance(rnd, 0.3) ? legacyAccesses(rnd, ["conf", "../share/doc/README", "./libfoo.so.1"], 3) : [],
    uses: kind === "legacy" ? [] : uses(rnd, files, paths, size, kind === "inode", clean),
    identity: kind === "legacy" ? "" : kind,
    eventsTraced: BigInt(size * 3),
    untracedChannelAttempts: chance(rnd, 0.2) ? [create(SyscallAttemptSchema, { syscall: "io_uring_setup", succeeded: 0n, failed: 2n })] : [],
    exercise,
  });
}

/** The cases: `count` synthetic images (profiles of all three kinds) and the demo catalogue. */
export function equivalenceCases(count: number): EquivalenceCase[] {
  const cases: EquivalenceCase[] = [];
  for (let seed = 1; seed <= count; seed += 1) {
    const rnd = seeded(seed);
    const demo = seed % 5 === 0;
    const base = demo ? demoCatalogue() : undefined;
    const packages = [...(base?.packages ?? []), ...syntheticPackages(rnd, demo ? 10 : 20 + Math.floor(rnd() * 40))];
    const listed = packages.flatMap((p) => p.files);
    const files = syntheticFiles(rnd, packages);
    const kind = pick(rnd, ["legacy", "inode", "kernel_path"] as const);
    const catalogue = create(ImageCatalogueSchema, {
      imageDigest: `sha256:${"a".repeat(64)}`,
      distroId: "debian",
      distroVersionId: "12",
      ecosystems: pick(rnd, [["deb"], ["deb", "python"], ["deb", "npm", "python"], ["dpkg"]]),
      packages,
      symlinks: { ...(base?.symlinks ?? {}), ...syntheticLinks(rnd) },
      elfInterpreters: { ...(base?.elfInterpreters ?? {}), ...syntheticInterpreters(rnd, listed) },
      fileCount: files.length,
      identity: kind === "inode" ? pick(rnd, ["inode", "inode", "path"]) : kind === "kernel_path" ? pick(rnd, ["inode", ""]) : "",
      files: kind === "legacy" || chance(rnd, 0.1) ? [] : files,
    });
    const allPaths = [...listed, ...Object.keys(catalogue.symlinks), ...Object.keys(catalogue.elfInterpreters)];
    // A third of the runs are clean (complete, exit 0, every use identified): not_in_execute_path is reachable.
    const profile = profileOf(rnd, kind, files, allPaths, seed % 3 === 0);
    const report: VulnerabilityReport = { format: "grype", findings: findings(rnd, packages, 30 + Math.floor(rnd() * 60)) };
    cases.push({ name: `seed ${seed} (${kind} profile${demo ? ", demo catalogue" : ""})`, catalogue, profile, report });
  }
  return cases;
}

/** The result of one case as comparable JSON: every verdict (protobuf JSON) and the summary. */
export function resultJson(result: { readonly verdicts: readonly Verdict[]; readonly summary: ProfileSummary }): { verdicts: unknown[]; summary: unknown } {
  return { verdicts: result.verdicts.map((v) => toJson(VerdictSchema, v)), summary: toJson(ProfileSummarySchema, result.summary) };
}

/** How many cases the golden file records. */
export const EQUIVALENCE_CASES = 60;
