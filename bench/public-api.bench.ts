/**
 * The public API under load (issue 10's benchmark), over @grpc/grpc-js as VEXxy core calls it,
 * against a real orchestrator (in this process), PostgreSQL and nats-server:
 *   GetAnalysis at rising concurrency: requests/s, p50 and p99 latency, each beside the gRPC
 *     health check at the same concurrency in the same run (transport and HTTP/2 floor: no JWT,
 *     no database), so the ratio shows what auth + tenancy + the job read cost.
 *   SubmitAnalysis throughput (one finding each, so every submit is validated, billed against
 *     the quota, inserted and published; no sandbox runs here, so this is the ceiling the
 *     submit path puts in front of the sandboxes).
 * Usage: node --import tsx bench/public-api.bench.ts [--seconds 5] [--concurrency 1,8,32,64,128]
 */
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { createDevCredentials, DEV_AUDIENCE, DEV_ISSUER } from "@vexxy/auth";
import { FilesystemBlobStore } from "@vexxy/blobstore";
import { startOrchestratorService } from "@vexxy/orchestrator";
import { noopLogger } from "@vexxy/platform";
import { AnalysisService, healthV1 } from "@vexxy/proto";
import { createGrpcJsClient, startNatsServer, startPostgres, tempDir } from "@vexxy/testkit";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const seconds = Number(arg("--seconds", "5"));
const levels = arg("--concurrency", "1,8,32,64,128").split(",").map(Number);
const DIGEST = `sha256:${"c".repeat(64)}`;
const ONE_FINDING = Buffer.from(
  JSON.stringify({ matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }] }),
);
const NO_FINDING = Buffer.from(JSON.stringify({ matches: [] }));

interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

/** Runs `call` from `concurrency` loops for `ms` milliseconds; latencies in ms. */
async function load(concurrency: number, ms: number, call: (i: number) => Promise<unknown>): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + ms;
  let n = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        try {
          await call(n++);
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { rps: latencies.length / wall, p50: at(0.5), p99: at(0.99), errors };
}

const dir = await tempDir("bench-api");
const pg = await startPostgres();
const nats = await startNatsServer();
const credentials = await createDevCredentials(join(dir.path, "auth"));
const orchestrator = await startOrchestratorService(
  Object.freeze({
    host: "127.0.0.1",
    port: 0,
    natsUrl: nats.url,
    natsStream: "VEXXY",
    databaseUrl: await pg.createDatabase("bench_api"),
    blobStoreUrl: `file://${dir.path}/blobs`,
    logLevel: "error" as const,
    maxAttempts: 1,
    dispatchDeadlineSeconds: 3600,
    runGraceSeconds: 3600,
    stageDeadlineSeconds: 3600,
    maxRedispatches: 0,
    reconcileIntervalMs: 600000,
    eventAckWaitMs: 5000,
    watchPollMs: 1000,
    imageTransports: ["oci:"],
    auth: {
      jwt: {
        keys: { kind: "file" as const, path: credentials.jwksFile },
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        algorithms: ["ES256"],
        clockToleranceSeconds: 30,
        organizationClaim: "org_id",
        tierClaim: "tier",
      },
      runtimeAnalysisTiers: ["ultimate"],
      monthlyLimits: { ultimate: 1_000_000 },
      defaultMonthlyLimit: 50,
    },
  }),
  { logger: noopLogger, blobs: new FilesystemBlobStore(`${dir.path}/blobs`) },
);
const api = createGrpcJsClient(AnalysisService, orchestrator.url, { metadata: { authorization: `Bearer ${credentials.devToken}` } });
const health = createGrpcJsClient(healthV1.Health, orchestrator.url);
try {
  // 200 finished jobs to read (no findings: COMPLETE at submit).
  const jobs: string[] = [];
  for (let i = 0; i < 200; i++) {
    jobs.push((await api.unary("submitAnalysis", { imageRef: `oci:/img:${i}`, imageDigest: DIGEST, vulnerabilityReport: NO_FINDING })).jobId);
  }
  await load(8, 1000, (i) => api.unary("getAnalysis", { jobId: jobs[i % jobs.length] ?? "" })); // warm-up
  await load(8, 1000, () => health.unary("check", { service: "" }));
  const rows: string[] = [];
  for (const c of levels) {
    const base = await load(c, seconds * 1000, () => health.unary("check", { service: "" }));
    const get = await load(c, seconds * 1000, (i) => api.unary("getAnalysis", { jobId: jobs[i % jobs.length] ?? "" }));
    rows.push(
      `| ${c} | ${get.rps.toFixed(0)} | ${get.p50.toFixed(2)} | ${get.p99.toFixed(2)} | ${get.errors} | ${base.rps.toFixed(0)} | ${base.p50.toFixed(2)} | ${base.p99.toFixed(2)} | ${(get.p99 / base.p99).toFixed(1)}x |`,
    );
    process.stderr.write(`concurrency ${c} done\n`);
  }
  const submitRows: string[] = [];
  for (const c of [1, 8, 32]) {
    const s = await load(c, seconds * 1000, (i) =>
      api.unary("submitAnalysis", { imageRef: `oci:/img:s${c}-${i}`, imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING }),
    );
    submitRows.push(`| ${c} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.errors} |`);
  }
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log("\nGetAnalysis over grpc-js (JWT verified, tenancy, one job read) beside the health check (same run, same concurrency):\n");
  console.log("| concurrency | GetAnalysis req/s | p50 ms | p99 ms | errors | health req/s | p50 ms | p99 ms | p99 vs health |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
  console.log("\nSubmitAnalysis (one finding: validated, quota taken, inserted, analysis.requested published; no sandbox consumes):\n");
  console.log("| concurrency | submits/s | p50 ms | p99 ms | errors |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of submitRows) console.log(r);
} finally {
  api.close();
  health.close();
  await orchestrator.close();
  await nats.stop();
  await pg.stop();
  await dir.remove();
}
