/**
 * Throughput of the embedded mesh with one and with two replicas of every service, in one run:
 * 20 demo analyses submitted at once to a fresh stack of each kind; jobs/min over the batch's
 * wall time, p50/p99 of each job's submit-to-COMPLETE time. Prints a table; copy the figures
 * into bench/RESULTS.md.
 * Each batch's row is printed as soon as it ends (a long run on a loaded machine keeps what it
 * measured).
 * Usage: pnpm bench:replicas [--jobs N] [--replicas 1,2]
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, SubmitAnalysisRequestSchema } from "@vexxy/proto";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AnalysisService } from "@vexxy/proto";
import { buildDemoImage, resolveImageInput, startEmbeddedStack, DEMO_IMAGE_NAME } from "@vexxy/deploy-local";

const jobsArg = process.argv.indexOf("--jobs");
const jobs = (jobsArg > 0 ? Number(process.argv[jobsArg + 1]) : 20) || 20;
const replicasArg = process.argv.indexOf("--replicas");
const replicaCounts = (replicasArg > 0 ? (process.argv[replicasArg + 1] ?? "") : "1,2")
  .split(",")
  .map(Number)
  .filter((n) => Number.isInteger(n) && n >= 1);
const log = (s: string) => process.stderr.write(`${s}\n`);
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

const demo = await buildDemoImage(log);
const image = await resolveImageInput(demo.ociLayoutDir);
const scan = readFileSync(demo.scanFile);

interface Figures {
  readonly replicas: number;
  readonly wallSeconds: number;
  readonly perJob: number[];
  readonly statuses: Record<string, number>;
  readonly load: number;
}

async function batch(replicas: number): Promise<Figures> {
  log(`--- ${replicas} replica(s) of every service`);
  // As the mesh tests on this shared machine: bpftrace has taken over 10 s to attach under load.
  const stack = await startEmbeddedStack({
    replicas,
    onProgress: log,
    startTimeoutMs: 480000,
    serviceEnv: { profiler: { TRACE_ATTACH_TIMEOUT_MS: "60000" }, sandbox: { TRACE_ATTACH_TIMEOUT_MS: "90000" } },
  });
  // The stack's dev bearer token, when it issues one (public API with authentication).
  const token = (stack as { devToken?: string }).devToken;
  const bearer: Interceptor = (next) => async (req) => {
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    return await next(req);
  };
  const client = createClient(AnalysisService, createGrpcTransport({ baseUrl: stack.urls.orchestrator, interceptors: [bearer] }));
  // An interrupted bench stops its stack (the sandboxes tear their containers down) before exiting:
  // a killed one left held runc containers behind.
  const onSignal = (): void => {
    void stack.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const t0 = Date.now();
    const perJob: number[] = [];
    const statuses: Record<string, number> = {};
    await Promise.all(
      Array.from({ length: jobs }, async () => {
        const submittedAt = Date.now();
        const { jobId } = await client.submitAnalysis(
          create(SubmitAnalysisRequestSchema, { ...image, imageName: DEMO_IMAGE_NAME, vulnerabilityReport: scan, config: { testTimeoutSeconds: 60 } }),
        );
        let status = AnalysisStatus.UNSPECIFIED;
        for await (const u of client.watchAnalysis({ jobId })) {
          if (u.analysis === undefined) continue;
          status = u.analysis.status;
          if (status >= AnalysisStatus.COMPLETE) break;
        }
        perJob.push((Date.now() - submittedAt) / 1000);
        statuses[AnalysisStatus[status]] = (statuses[AnalysisStatus[status]] ?? 0) + 1;
      }),
    );
    return { replicas, wallSeconds: (Date.now() - t0) / 1000, perJob, statuses, load: loadavg()[0] ?? Number.NaN };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stack.stop();
  }
}

console.log(
  `\nVEXxy replicas benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${jobs} demo jobs at once\n`,
);
console.log(
  "| replicas of each service | jobs/min | p50 job | p99 job | batch wall time | outcome | load avg (1 min) at the end |\n| --- | --- | --- | --- | --- | --- | --- |",
);
for (const count of replicaCounts) {
  const r = await batch(count);
  const outcome = Object.entries(r.statuses)
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
  console.log(
    `| ${r.replicas} | ${((jobs / r.wallSeconds) * 60).toFixed(1)} | ${percentile(r.perJob, 50).toFixed(1)} s | ${percentile(r.perJob, 99).toFixed(1)} s | ${r.wallSeconds.toFixed(1)} s | ${outcome} | ${r.load.toFixed(1)} |`,
  );
}
