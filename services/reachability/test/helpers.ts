/**
 * Builders of engine inputs for the tests: a catalogue and a profile from plain objects.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { create, fromJsonString } from "@bufbuild/protobuf";
import { CataloguedPackageSchema, WorkloadOutcome } from "@vexxy/proto";
import { ExecutionProfileSchema, FileAccessSchema, ImageCatalogueSchema } from "@vexxy/proto";
import type { ExecutionProfile, FileAccess, ImageCatalogue } from "@vexxy/proto";

export interface PkgSpec {
  readonly name: string;
  readonly version: string;
  readonly type?: string;
  readonly files: readonly string[];
  readonly resolvedFiles?: readonly string[];
  readonly arch?: string;
}

/** A Debian-like catalogue with merged /usr. */
export function catalogue(
  packages: readonly PkgSpec[],
  extra: { symlinks?: Record<string, string>; interpreters?: Record<string, string>; ecosystems?: string[] } = {},
): ImageCatalogue {
  return create(ImageCatalogueSchema, {
    imageDigest: `sha256:${"a".repeat(64)}`,
    distroId: "debian",
    distroVersionId: "12",
    ecosystems: extra.ecosystems ?? ["deb"],
    packages: packages.map((p) =>
      create(CataloguedPackageSchema, {
        name: p.name,
        version: p.version,
        architecture: p.arch ?? "amd64",
        type: p.type ?? "deb",
        purl: `pkg:deb/debian/${p.name}@${p.version}?arch=${p.arch ?? "amd64"}&distro=debian-12`,
        files: [...p.files],
        resolvedFiles: [...(p.resolvedFiles ?? [])],
      }),
    ),
    symlinks: { "/bin": "usr/bin", "/lib": "usr/lib", "/lib64": "usr/lib64", "/sbin": "usr/sbin", ...(extra.symlinks ?? {}) },
    elfInterpreters: extra.interpreters ?? {},
    fileCount: 1000,
  });
}

/** One traced access; counts default to one success. */
export function access(path: string, kind: "open" | "exec" = "open", ok = 1, failed = 0): FileAccess {
  return create(FileAccessSchema, { path, access: kind, countOk: BigInt(ok), countFailed: BigInt(failed), firstSeenNs: 1n, firstPid: 1 });
}

/** Fields a test may override in a profile. */
export type ProfileOverrides = Partial<Omit<ExecutionProfile, "$typeName">>;

/** A complete profile of a run that exited 0 after 20 s, unless overridden. */
export function profile(files: readonly FileAccess[], overrides: ProfileOverrides = {}): ExecutionProfile {
  return create(ExecutionProfileSchema, {
    jobId: "job-1",
    attempt: 1,
    tracer: "bpftrace",
    complete: true,
    outcome: WorkloadOutcome.EXITED_OK,
    durationSeconds: 20,
    files: [...files],
    eventsTraced: BigInt(files.length),
    ...overrides,
  });
}

/** The catalogue fixture of the demo image's debootstrap root. */
export function demoCatalogue(): ImageCatalogue {
  const path = new URL("./fixtures/bookworm-minbase.catalogue.json.gz", import.meta.url);
  return fromJsonString(ImageCatalogueSchema, gunzipSync(readFileSync(path)).toString("utf8"));
}

/** Bytes of a file under test/fixtures. */
export function fixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

/** A minimal Grype match. */
export function grypeMatch(id: string, name: string, version: string, type = "deb", purl = "", related: string[] = []): Record<string, unknown> {
  return {
    vulnerability: { id, severity: "High" },
    relatedVulnerabilities: related.map((r) => ({ id: r })),
    artifact: { name, version, type, purl, locations: [{ path: "/var/lib/dpkg/status" }] },
  };
}
