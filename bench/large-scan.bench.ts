/**
 * A large scan end to end (issue 9's target: a 5,000-finding scan within 2 s of the demo's time):
 * the embedded mesh runs the demo job and the same image with a Grype scan of 5,000 findings
 * (synthetic CVE ids on the image's real packages, in the demo scan's shape), alternately, in one
 * process, and prints each run's wall time and its stage split (from the orchestrator's event log)
 * with the medians side by side: the difference is what the findings cost.
 * Usage: node --import tsx bench/large-scan.bench.ts [--runs 3] [--findings 5000]
 */
import { cpus, loadavg, totalmem } from "node:os";
import { fromJsonString } from "@bufbuild/protobuf";
import { createBlobStore } from "@vexxy/blobstore";
import { AnalysisStatus, ImageCatalogueSchema } from "@vexxy/proto";
import { apiClient, demoInput, demoSubmit, isFinalStatus, startMesh, waitFor, type ApiClient } from "../test/support/mesh.js";
import { stageTimings, type StageTimings } from "./stage-timings.js";

type GrypeMatch = Record<string, unknown> & { vulnerability: Record<string, unknown>; artifact: Record<string, unknown> };

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`--${name} must be a positive integer`);
  return value;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function runToEnd(
  client: ApiClient,
  databaseUrl: string,
  submit: ReturnType<typeof demoSubmit>,
): Promise<{ jobId: string; wall: number; stages: StageTimings }> {
  const started = Date.now();
  const { jobId } = await client.unary("submitAnalysis", submit);
  const done = await waitFor(client, jobId, (a) => isFinalStatus(a.status), 900000);
  if (done.status !== AnalysisStatus.COMPLETE) throw new Error(`job ${jobId} ended ${AnalysisStatus[done.status]}: ${done.errorMessage}`);
  return { jobId, wall: (Date.now() - started) / 1000, stages: await stageTimings(databaseUrl, jobId) };
}

async function main(): Promise<void> {
  const runs = option("runs", 3);
  const findings = option("findings", 5000);
  const demo = await demoInput();
  const stack = await startMesh({ startTimeoutMs: 600000 });
  const client = apiClient(stack);
  try {
    // A first demo run warms the image cache and the services; it is not counted.
    const warm = await runToEnd(client, stack.databaseUrl, demoSubmit(demo));
    const blobs = createBlobStore(stack.blobStoreUrl, { encryptionKey: stack.blobEncryptionKey });
    const catalogue = fromJsonString(ImageCatalogueSchema, (await blobs.get(`jobs/${warm.jobId}/attempts/1/catalogue.json`)).toString("utf8"), {
      ignoreUnknownFields: true,
    });
    const packages = catalogue.packages.filter((p) => p.installState === "installed" && p.purl !== "");
    const scan = JSON.parse(demo.scan.toString("utf8")) as { matches: GrypeMatch[] };
    const template = scan.matches[0];
    if (template === undefined) throw new Error("the demo scan has no match to copy");
    const matches = Array.from({ length: findings }, (_, i) => {
      const pkg = packages[i % packages.length]!;
      const id = `CVE-2099-${String(i).padStart(5, "0")}`;
      const match = structuredClone(template);
      match.vulnerability = { ...match.vulnerability, id, dataSource: `https://security-tracker.debian.org/tracker/${id}`, urls: [] };
      match["relatedVulnerabilities"] = [];
      match["matchDetails"] = [];
      match.artifact = { ...match.artifact, id: `${pkg.name}-${id}`, name: pkg.name, version: pkg.version, purl: pkg.purl };
      return match;
    });
    const report = Buffer.from(JSON.stringify({ ...scan, matches }));

    const small: Array<Awaited<ReturnType<typeof runToEnd>>> = [];
    const large: Array<Awaited<ReturnType<typeof runToEnd>>> = [];
    for (let i = 0; i < runs; i++) {
      small.push(await runToEnd(client, stack.databaseUrl, demoSubmit(demo)));
      large.push(await runToEnd(client, stack.databaseUrl, demoSubmit(demo, { vulnerabilityReport: report })));
    }
    const row = (label: string, set: typeof small) =>
      `| ${label} | ${median(set.map((r) => r.wall)).toFixed(2)} | ${median(set.map((r) => r.stages.total)).toFixed(2)} | ${median(set.map((r) => r.stages.verdicts)).toFixed(2)} | ${median(set.map((r) => r.stages.vexAndSigning)).toFixed(2)} | ${set.map((r) => r.wall.toFixed(1)).join(", ")} |`;
    const delta = median(large.map((r) => r.wall)) - median(small.map((r) => r.wall));
    console.log(
      `large-scan bench: ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()[0]?.toFixed(1)}`,
    );
    console.log(
      `demo scan: ${scan.matches.length} findings; large scan: ${findings} findings (${(report.length / 2 ** 20).toFixed(1)} MiB) on ${packages.length} packages; ${runs} runs each, alternating`,
    );
    console.log("| job | median wall s | median submitted→signed s | median verdicts s | median VEX + signing s | every run (wall s) |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    console.log(row("demo", small));
    console.log(row(`${findings} findings`, large));
    // The wall time mixes in the sandbox run, which varies by seconds with the machine's load;
    // the parts the findings can cost are the scan's validation at submit (before the sandbox
    // starts) and the verdict and VEX stages: their differences are printed too.
    const part = (pick: (t: StageTimings) => number) => median(large.map((r) => pick(r.stages))) - median(small.map((r) => pick(r.stages)));
    console.log(
      `difference by part (5000-finding median minus demo median): submit→sandbox started ${part((t) => t.sandboxStart).toFixed(2)} s, traced run ${part((t) => t.tracedRun).toFixed(2)} s, profile ${part((t) => t.profile).toFixed(2)} s, verdicts ${part((t) => t.verdicts).toFixed(2)} s, VEX + signing ${part((t) => t.vexAndSigning).toFixed(2)} s`,
    );
    const findingsCost = part((t) => t.verdicts) + part((t) => t.vexAndSigning);
    console.log(`what the findings cost in the stages (verdicts + VEX): ${findingsCost.toFixed(2)} s`);
    console.log(`difference of the wall-time medians: ${delta.toFixed(2)} s (target: within 2 s) -> ${delta <= 2 ? "MET" : "MISSED"}`);
  } finally {
    client.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
