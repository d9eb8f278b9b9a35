/**
 * Benchmark of the demo image, end to end and per stage, each beside its baseline in the same
 * run (these machines are noisy; ratios compare like with like):
 *   unpack      prepareImage (digest checks, safe extraction)   vs  `tar -xzf` of the same layers
 *   traced run  the entrypoint under runc with bpftrace attached vs  the same entrypoint under runc untraced
 *   end to end  one analysis through the embedded mesh, split into stages by the job event log
 * Prints a table and appends nothing by itself: copy the figures into bench/RESULTS.md.
 * Usage: pnpm bench [--runs N]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, SubmitAnalysisRequestSchema } from "@vexxy/proto";
import { tempDir } from "@vexxy/testkit";
import { buildDemoImage, orchestratorClient, resolveImageInput, startEmbeddedStack, DEMO_IMAGE_NAME } from "@vexxy/deploy-local";
import { RuncRuntime, prepareImage, containerIdFor } from "@vexxy/sandbox";
import { BpftraceTracer } from "@vexxy/profiler";
import { stageTimings } from "./stage-timings.js";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] ?? "3") || 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const log = (s: string) => process.stderr.write(`${s}\n`);

const demo = await buildDemoImage(log);
const image = await resolveImageInput(demo.ociLayoutDir);
const work = await tempDir("bench");
const rows: [string, number, string, number][] = [];

// 1. Unpack vs tar -x of the same layers.
const layoutDir = demo.ociLayoutDir.replace(/:demo$/, "");
const index = JSON.parse(readFileSync(join(layoutDir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
const manifest = JSON.parse(readFileSync(join(layoutDir, "blobs/sha256", index.manifests[0]!.digest.slice(7)), "utf8")) as { layers: { digest: string }[] };
const ours: number[] = [];
const tarx: number[] = [];
let rootfsDir = "";
for (let i = 0; i < runs; i++) {
  let t = process.hrtime.bigint();
  const prepared = await prepareImage({ imageRef: image.imageRef, expectedDigest: image.imageDigest, workDir: join(work.path, `u${i}`) });
  ours.push(seconds(t));
  rootfsDir = prepared.rootfsDir;
  const dest = join(work.path, `t${i}`);
  mkdirSync(dest, { recursive: true });
  t = process.hrtime.bigint();
  for (const l of manifest.layers) execFileSync("tar", ["-xzf", join(layoutDir, "blobs/sha256", l.digest.slice(7)), "-C", dest]);
  tarx.push(seconds(t));
  rmSync(dest, { recursive: true, force: true });
  if (i < runs - 1) rmSync(join(work.path, `u${i}`), { recursive: true, force: true });
}
rows.push(["unpack (prepareImage)", median(ours), "tar -xzf", median(tarx)]);

// 2. The entrypoint under runc, traced and untraced.
const driver = new RuncRuntime({ workDir: join(work.path, "bundles") });
const tracer = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 65536, stopTimeoutMs: 30000 });
const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const workloads = {
  "demo entrypoint": ["/app/run.sh"],
  // Open-heavy, like the architecture's measurement: every file under /usr read, 20 times over.
  "open-heavy (find /usr | cat, ×20)": ["/bin/sh", "-c", "i=0; while [ $i -lt 20 ]; do find /usr -type f -exec cat {} + >/dev/null 2>&1; i=$((i+1)); done"],
};
let events = 0;
for (const [label, args] of Object.entries(workloads)) {
  const traced: number[] = [];
  const untraced: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const withTrace of [false, true]) {
      const id = containerIdFor(`bench${withTrace ? "t" : "u"}${i}${label.length}00000`, 1);
      const handle = await driver.create({ containerId: id, rootfsDir, process: { args, env: [PATH, "DEMO_SLEEP_SECONDS=0"], cwd: "/", uid: 0, gid: 0 } });
      const session = withTrace
        ? await tracer.start({ kind: "host_cgroup", jobId: "bench", attempt: 1, containerId: id, cgroupPath: handle.cgroupV2Path }, 15000)
        : undefined;
      const t = process.hrtime.bigint();
      await driver.start(id);
      const res = await driver.wait(id, 300000);
      (withTrace ? traced : untraced).push(seconds(t));
      if (session !== undefined) {
        const r = await session.stop();
        const counted = r.uses.reduce((n, u) => n + u.count, 0);
        if (label === "demo entrypoint") events = counted;
        else log(`${label}: ${counted} uses counted on ${r.uses.length} distinct (access, file identity) pairs, loss: ${r.lossReasons.join(",") || "none"}`);
      }
      await driver.destroy(id);
      if (res.exitCode !== 0) throw new Error(`${label} exited ${res.exitCode}`);
    }
  }
  rows.push([`${label} under runc, traced`, median(traced), "untraced", median(untraced)]);
}

// 3. End to end through the mesh.
const stack = await startEmbeddedStack({ onProgress: log });
const client = orchestratorClient(stack.urls.orchestrator, stack.devToken);
const scan = readFileSync(demo.scanFile);
const e2e: Record<string, number[]> = {};
try {
  for (let i = 0; i < runs; i++) {
    const { jobId } = await client.submitAnalysis(
      create(SubmitAnalysisRequestSchema, { ...image, imageName: DEMO_IMAGE_NAME, vulnerabilityReport: scan, config: { testTimeoutSeconds: 60 } }),
    );
    for await (const u of client.watchAnalysis({ jobId })) if (u.analysis !== undefined && u.analysis.status >= AnalysisStatus.COMPLETE) break;
    const t = await stageTimings(stack.databaseUrl, jobId);
    for (const [k, v] of Object.entries(t)) {
      e2e[k] ??= [];
      e2e[k].push(v);
    }
  }
} finally {
  await stack.stop();
  await work.remove();
}

const fmt = (n: number) => `${n.toFixed(3)} s`;
console.log(
  `\nVEXxy demo benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, median of ${runs}\n`,
);
console.log("| measured | time | baseline | time | ratio |\n| --- | --- | --- | --- | --- |");
for (const [name, t, base, b] of rows) console.log(`| ${name} | ${fmt(t)} | ${base} | ${fmt(b)} | ${(t / b).toFixed(2)}× |`);
console.log(`\nsyscall events counted by the tracer in one run: ${events}\n`);
console.log("| end-to-end stage | median |\n| --- | --- |");
for (const [k, v] of Object.entries(e2e)) console.log(`| ${k} | ${fmt(median(v))} |`);
