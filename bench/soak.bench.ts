/**
 * Soak of one fresh embedded stack: N demo analyses back to back (20 by default), every third one
 * while a bounded CPU load runs (nproc - 1 busy-loop child processes, each ending by itself after
 * a fixed duration and killed by pid once its analysis is over). Reports, for every run, the
 * wall time (submit → final status), the final status and the trace state with its loss
 * reasons; then how many traces were incomplete (target: 0), the first analysis's trace state,
 * and the baseline measured in the same process: mean wall time of the unloaded runs against
 * the loaded ones. Prints a table and appends nothing by itself: copy the figures into
 * bench/RESULTS.md.
 * Usage: pnpm bench:soak [--runs N] [--load-seconds S]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, release, totalmem } from "node:os";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, SubmitAnalysisRequestSchema } from "@vexxy/proto";
import { buildDemoImage, orchestratorClient, resolveImageInput, startEmbeddedStack, DEMO_IMAGE_NAME } from "@vexxy/deploy-local";
import { stageTimings } from "./stage-timings.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  const n = i < 0 ? fallback : Number(process.argv[i + 1]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};
const runs = arg("--runs", 20);
// Longer than one analysis takes here (~15 s), so the load covers the whole run; the bound
// holds even if this process dies, since each loop ends by itself.
const loadSeconds = arg("--load-seconds", 60);
const loaders = Math.max(1, availableParallelism() - 1);
const log = (s: string) => process.stderr.write(`${s}\n`);
const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

interface Run {
  readonly index: number;
  readonly loaded: boolean;
  readonly jobId: string;
  readonly status: string;
  readonly wallSeconds: number;
  readonly tracedRunSeconds: number | undefined;
  readonly traceComplete: boolean | undefined;
  readonly lossReasons: readonly string[];
  readonly error: string;
}

/** Starts the busy loops; each exits by itself after loadSeconds. */
function startLoad(): ChildProcess[] {
  const script = `const end = Date.now() + ${loadSeconds * 1000}; let x = 0; while (Date.now() < end) x++;`;
  return Array.from({ length: loaders }, () => spawn(process.execPath, ["-e", script], { stdio: "ignore" }));
}

async function stopLoad(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = once(child, "exit");
      process.kill(child.pid, "SIGKILL");
      await exited;
    }),
  );
}

const demo = await buildDemoImage(log);
const image = await resolveImageInput(demo.ociLayoutDir);
const scan = readFileSync(demo.scanFile);
const stack = await startEmbeddedStack({ onProgress: log });
const client = orchestratorClient(stack.urls.orchestrator, stack.devToken);
const results: Run[] = [];
let load: ChildProcess[] = [];
try {
  for (let index = 1; index <= runs; index++) {
    const loaded = index % 3 === 0;
    if (loaded) load = startLoad();
    const t0 = process.hrtime.bigint();
    try {
      const { jobId } = await client.submitAnalysis(
        create(SubmitAnalysisRequestSchema, { ...image, imageName: DEMO_IMAGE_NAME, vulnerabilityReport: scan, config: { testTimeoutSeconds: 60 } }),
      );
      let status = AnalysisStatus.UNSPECIFIED;
      let error = "";
      for await (const u of client.watchAnalysis({ jobId })) {
        if (u.analysis === undefined) continue;
        status = u.analysis.status;
        error = u.analysis.errorMessage;
        if (status >= AnalysisStatus.COMPLETE) break;
      }
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let traceComplete: boolean | undefined;
      let lossReasons: readonly string[] = [];
      let tracedRunSeconds: number | undefined;
      if (status === AnalysisStatus.COMPLETE) {
        const r = await client.getAnalysisResults({ jobId });
        traceComplete = r.executionProfile?.traceComplete;
        lossReasons = r.executionProfile?.lossReasons ?? [];
        tracedRunSeconds = (await stageTimings(stack.databaseUrl, jobId)).tracedRun;
      }
      const run: Run = { index, loaded, jobId, status: AnalysisStatus[status], wallSeconds, tracedRunSeconds, traceComplete, lossReasons, error };
      results.push(run);
      log(`run ${index}/${runs}${loaded ? " (loaded)" : ""}: ${run.status} in ${wallSeconds.toFixed(2)} s, trace ${traceState(run)}`);
    } finally {
      if (loaded) await stopLoad(load);
      load = [];
    }
  }
} finally {
  await stopLoad(load);
  await stack.stop();
}

function traceState(r: Run): string {
  if (r.traceComplete === undefined) return `none (${r.status}: ${r.error})`;
  return r.traceComplete ? "complete" : `INCOMPLETE (${r.lossReasons.join(", ")})`;
}

const fmt = (n: number | undefined) => (n === undefined ? "—" : `${n.toFixed(2)} s`);
const unloaded = results.filter((r) => !r.loaded);
const loadedRuns = results.filter((r) => r.loaded);
const incomplete = results.filter((r) => r.traceComplete !== true);
console.log(
  `\nVEXxy soak — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}, ` +
    `${runs} analyses on one fresh stack, every third under ${loaders} busy loop(s) of ${loadSeconds} s\n`,
);
console.log("| run | CPU load | status | wall time | traced run | trace |\n| --- | --- | --- | --- | --- | --- |");
for (const r of results)
  console.log(
    `| ${r.index} | ${r.loaded ? `${loaders} busy loop(s)` : "none"} | ${r.status} | ${fmt(r.wallSeconds)} | ${fmt(r.tracedRunSeconds)} | ${traceState(r)} |`,
  );
console.log(`\nincomplete or missing traces: ${incomplete.length} of ${results.length}`);
for (const r of incomplete) console.log(`  run ${r.index}: ${traceState(r)}`);
console.log(`first analysis's trace: ${results[0] === undefined ? "none" : traceState(results[0])}`);
const mu = mean(unloaded.map((r) => r.wallSeconds));
const ml = mean(loadedRuns.map((r) => r.wallSeconds));
console.log(
  `mean wall time: unloaded ${fmt(mu)} (${unloaded.length} runs), loaded ${fmt(ml)} (${loadedRuns.length} runs), loaded/unloaded ${(ml / mu).toFixed(2)}×`,
);
const mtu = mean(unloaded.flatMap((r) => (r.tracedRunSeconds === undefined ? [] : [r.tracedRunSeconds])));
const mtl = mean(loadedRuns.flatMap((r) => (r.tracedRunSeconds === undefined ? [] : [r.tracedRunSeconds])));
console.log(`mean traced run: unloaded ${fmt(mtu)}, loaded ${fmt(mtl)}, ${(mtl / mtu).toFixed(2)}×`);
process.exitCode = incomplete.length === 0 ? 0 : 1;
