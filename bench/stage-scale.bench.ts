/**
 * The reachability and VEX stages alone at scale (issue 9's benchmark): a synthetic image of
 * 10,000 packages (250,000 catalogued files), a Grype scan of 20,000 findings and a profile
 * of 200,000 opened files, then at 2x and 4x that size. Each size runs in its own child
 * process so its peak RSS is its own; the figures are printed beside the 1x run of the same
 * invocation (ratios: linear growth is 2.0 and 4.0).
 *   parse     the Grype JSON into a report
 *   reach     scoreReachability: catalogue x profile x scan -> verdicts
 *   vex       produceVex for OpenVEX and CycloneDX (written, schema-validated, self-checked
 *             against Grype's and Trivy's rules, signed)
 * Usage: node --import tsx bench/stage-scale.bench.ts [--scales 1,2,4]
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import {
  CataloguedFileSchema,
  CataloguedPackageSchema,
  ExecutionProfileSchema,
  FileIdentitySchema,
  FileUseSchema,
  ImageCatalogueSchema,
  JobRefSchema,
  VexDocumentFormat,
  VexStatus,
  WorkloadOutcome,
} from "@vexxy/proto";
import { parseVulnerabilityReport, scoreReachability } from "@vexxy/reachability";
import { produceVex, signingKeyFrom } from "@vexxy/vex/lib";

const PACKAGES = 10_000;
const FILES_PER_PACKAGE = 25;
const FINDINGS = 20_000;
const OPENED = 200_000;

interface Figures {
  readonly scale: number;
  readonly packages: number;
  readonly findings: number;
  readonly opened: number;
  readonly parseMs: number;
  readonly reachMs: number;
  readonly vexMs: number;
  readonly totalMs: number;
  readonly peakRssMiB: number;
  readonly notAffected: number;
  readonly grypeSuppressed: number;
  readonly trivySuppressed: number;
  readonly formats: string;
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** One size, in this process: builds the inputs, times the stages, prints one JSON line. */
function runScale(scale: number): Figures {
  const packages = PACKAGES * scale;
  const findings = FINDINGS * scale;
  const opened = OPENED * scale;
  const root = { devMajor: 8, devMinor: 1 };
  const pkgName = (p: number) => `pkg-${p}`;
  const pkgs = Array.from({ length: packages }, (_, p) =>
    create(CataloguedPackageSchema, {
      name: pkgName(p),
      version: "1.0-1",
      architecture: "amd64",
      type: "deb",
      purl: `pkg:deb/debian/${pkgName(p)}@1.0-1?arch=amd64&distro=debian-12`,
      files: Array.from({ length: FILES_PER_PACKAGE }, (_, f) => `/usr/lib/${pkgName(p)}/f${f}`),
    }),
  );
  // Package 0's first file is the executable the workload ran (an exec must match the catalogue).
  const files = pkgs.flatMap((pkg, p) =>
    pkg.files.map((path, f) =>
      create(CataloguedFileSchema, {
        id: create(FileIdentitySchema, { ...root, inode: BigInt(p * FILES_PER_PACKAGE + f + 1) }),
        paths: [path],
        owners: [p],
        kind: f === 0 ? "elf_executable" : "other",
        ownerRule: "package_list",
      }),
    ),
  );
  const catalogue = create(ImageCatalogueSchema, {
    imageDigest: `sha256:${"a".repeat(64)}`,
    distroId: "debian",
    distroVersionId: "12",
    ecosystems: ["deb"],
    packages: pkgs,
    symlinks: {},
    elfInterpreters: {},
    fileCount: files.length,
    identity: "inode",
    files,
  });
  // The first `opened` files in catalogue order: 80% of the packages used, 20% untouched.
  const uses = files
    .slice(0, opened)
    .map((file, i) =>
      create(FileUseSchema, { id: file.id, path: file.paths[0] ?? "", access: i === 0 ? "exec" : "open", count: 1n, firstSeenNs: BigInt(i + 1), firstPid: 1 }),
    );
  const profile = create(ExecutionProfileSchema, {
    jobId: "bench",
    attempt: 1,
    tracer: "bpftrace",
    complete: true,
    outcome: WorkloadOutcome.EXITED_OK,
    durationSeconds: 60,
    uses,
    eventsTraced: BigInt(opened),
  });
  // Two findings per package, spread over every package.
  const matches = Array.from({ length: findings }, (_, i) => {
    const p = i % packages;
    return {
      vulnerability: { id: `CVE-2099-${String(i).padStart(7, "0")}`, severity: "High" },
      relatedVulnerabilities: [],
      artifact: {
        name: pkgName(p),
        version: "1.0-1",
        type: "deb",
        purl: `pkg:deb/debian/${pkgName(p)}@1.0-1?arch=amd64&distro=debian-12`,
        locations: [{ path: "/var/lib/dpkg/status" }],
      },
    };
  });
  const grype = JSON.stringify({
    matches,
    source: { type: "image", target: { userInput: "bench" } },
    distro: { name: "debian", version: "12" },
    descriptor: { name: "grype" },
  });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const key = signingKeyFrom(privateKey);
  const job = create(JobRefSchema, {
    jobId: "0b0e7a4e-0000-4000-8000-00000000b0b0",
    attempt: 1,
    organizationId: "bench",
    imageRef: `docker://ghcr.io/example/bench@sha256:${"b".repeat(64)}`,
    imageDigest: `sha256:${"b".repeat(64)}`,
    imageName: "ghcr.io/example/bench:1",
    vexFormats: [VexDocumentFormat.OPENVEX, VexDocumentFormat.CYCLONEDX],
  });

  const t0 = process.hrtime.bigint();
  const report = parseVulnerabilityReport(grype);
  const parseMs = ms(t0);
  const t1 = process.hrtime.bigint();
  const scored = scoreReachability({ catalogue, profile, report });
  const reachMs = ms(t1);
  const t2 = process.hrtime.bigint();
  const produced = produceVex(job, scored.verdicts, key, { author: "bench", idBase: "https://vexxy.dev/vex/", tooling: "bench" });
  const vexMs = ms(t2);
  const notAffected = scored.verdicts.filter((v) => v.status === VexStatus.NOT_AFFECTED).length;
  return {
    scale,
    packages,
    findings,
    opened,
    parseMs,
    reachMs,
    vexMs,
    totalMs: parseMs + reachMs + vexMs,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    notAffected,
    grypeSuppressed: produced.conformance.grypeSuppressed,
    trivySuppressed: produced.conformance.trivySuppressed,
    formats: produced.documents.map((d) => d.format).join("+"),
  };
}

const childArg = process.argv.indexOf("--child");
if (childArg >= 0) {
  const figures = runScale(Number(process.argv[childArg + 1]));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  const scalesArg = process.argv.indexOf("--scales");
  const scales = (scalesArg >= 0 ? (process.argv[scalesArg + 1] ?? "1,2,4") : "1,2,4").split(",").map(Number);
  const self = fileURLToPath(import.meta.url);
  const rows: Figures[] = [];
  for (const scale of scales) {
    process.stderr.write(`scale ${scale}x ...\n`);
    // A big heap for 4x (the documents alone are hundreds of MiB); the figure is what was used.
    const out = execFileSync(process.execPath, ["--max-old-space-size=16384", "--import", "tsx", self, "--child", String(scale)], {
      encoding: "utf8",
      maxBuffer: 1 << 20,
      stdio: ["ignore", "pipe", "inherit"],
    });
    rows.push(JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Figures);
  }
  const base = rows[0];
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log(
    "| scale | packages | findings | opened files | parse ms | reachability ms | VEX (OpenVEX+CycloneDX, self-check, signing) ms | stage total ms | x 1x | peak RSS MiB | not_affected | Grype / Trivy would suppress |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const ratio = base === undefined ? 1 : r.totalMs / base.totalMs;
    console.log(
      `| ${r.scale}x | ${r.packages} | ${r.findings} | ${r.opened} | ${r.parseMs.toFixed(0)} | ${r.reachMs.toFixed(0)} | ${r.vexMs.toFixed(0)} (${r.formats}) | ${r.totalMs.toFixed(0)} | ${ratio.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.notAffected} | ${r.grypeSuppressed} / ${r.trivySuppressed} |`,
    );
  }
}
