/**
 * The public API under load (issue 10's benchmark), over @grpc/grpc-js as VEXxy core calls it,
 * against a real orchestrator, PostgreSQL and nats-server. The orchestrator runs in this process;
 * the load comes from a child process (the same file with --load-child), so the client's
 * event loop and the server's do not share one thread (they still share the machine's cores):
 *   GetAnalysis at rising concurrency (closed loop: each of N callers waits for its answer):
 *     requests/s, p50 and p99 latency;
 *   GetAnalysis at fixed arrival rates (open loop: calls are sent on a fixed schedule whether or
 *     not earlier ones have answered, and latency is measured from each call's scheduled send
 *     time, so queueing shows in the percentiles instead of slowing the sender down);
 *   each beside the gRPC health check at the same concurrency or rate in the same run (the
 *     transport and HTTP/2 floor: no JWT, no database), so the ratio shows what auth, tenancy
 *     and the job read cost; and the server's CPU time per call (this process's cpuUsage over
 *     the phase, so the load generator's own CPU is not in it);
 *   SubmitAnalysis throughput (one finding each, so every submit is validated, billed against
 *     the quota, inserted and published; no sandbox runs here, so this is the ceiling the
 *     submit path puts in front of the sandboxes).
 * Usage: node --import tsx bench/public-api.bench.ts [--seconds 5] [--concurrency 1,8,32,64,128]
 *   [--rates 100,250,500] [--submit-concurrency 1,8,32] (an empty list skips that part)
 *   [--phase-marks] (prints each phase's monotonic start and end in µs, to cut a --cpu-prof profile)
 */
import { fork, type ChildProcess } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
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
const list = (name: string, fallback: string): number[] =>
  arg(name, fallback)
    .split(",")
    .filter((s) => s.trim() !== "")
    .map(Number);
const DIGEST = `sha256:${"c".repeat(64)}`;
const ONE_FINDING = Buffer.from(
  JSON.stringify({ matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }] }),
);
const NO_FINDING = Buffer.from(JSON.stringify({ matches: [] }));
// An open-loop run gives up on a call (counted as dropped, an infinite latency) past this many outstanding.
const MAX_OUTSTANDING = 4000;
const CALL_TIMEOUT_MS = 30000;

type Target = "get" | "health" | "submit";

/** What the parent asks the load child to do. */
type Command =
  | { readonly kind: "setup"; readonly url: string; readonly token: string; readonly jobs: readonly string[] }
  | { readonly kind: "closed"; readonly target: Target; readonly concurrency: number; readonly ms: number; readonly label: string }
  | { readonly kind: "open"; readonly target: Target; readonly rate: number; readonly ms: number }
  | { readonly kind: "exit" };

interface Load {
  /** Calls answered without error per second of the run. */
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly ok: number;
  readonly errors: number;
  /** Open loop only: calls not sent because MAX_OUTSTANDING were outstanding. */
  readonly dropped: number;
  /** The load child's own CPU time over the run (the grpc-js client's share of the machine). */
  readonly clientCpuMs?: number;
}

function summarize(latencies: number[], errors: number, dropped: number, wallSeconds: number): Load {
  const ok = latencies.length;
  // Errors and dropped calls count as infinitely late: a percentile never hides them.
  const all = latencies.concat(Array.from({ length: errors + dropped }, () => Number.POSITIVE_INFINITY)).sort((a, b) => a - b);
  const at = (q: number): number => all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? Number.NaN;
  return { rps: ok / wallSeconds, p50: at(0.5), p99: at(0.99), max: all[all.length - 1] ?? Number.NaN, ok, errors, dropped };
}

/** Runs `call` from `concurrency` loops for `ms` milliseconds (closed loop); latencies in ms. */
async function closedLoop(concurrency: number, ms: number, call: (i: number) => Promise<unknown>): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await call(n++);
          latencies.push(performance.now() - t);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return summarize(latencies, errors, 0, (performance.now() - started) / 1000);
}

/**
 * Sends `rate` calls per second for `ms` milliseconds on a fixed schedule (open loop), each
 * call's latency measured from its scheduled send time, so a server that falls behind shows its
 * queue in the latencies (no coordinated omission).
 */
async function openLoop(rate: number, ms: number, call: (i: number) => Promise<unknown>): Promise<Load> {
  const latencies: number[] = [];
  let errors = 0;
  let dropped = 0;
  let outstanding = 0;
  const total = Math.max(1, Math.round((rate * ms) / 1000));
  const interval = 1000 / rate;
  const started = performance.now();
  let lastDone = started;
  await new Promise<void>((resolve) => {
    let sent = 0;
    let finished = 0;
    const finish = (): void => {
      finished += 1;
      lastDone = performance.now();
      if (finished === total) resolve();
    };
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && started + sent * interval <= now) {
        const scheduled = started + sent * interval;
        const i = sent++;
        if (outstanding >= MAX_OUTSTANDING) {
          dropped += 1;
          finish();
          continue;
        }
        outstanding += 1;
        call(i).then(
          () => {
            latencies.push(performance.now() - scheduled);
            outstanding -= 1;
            finish();
          },
          () => {
            errors += 1;
            outstanding -= 1;
            finish();
          },
        );
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * interval - performance.now()));
    };
    tick();
  });
  return summarize(latencies, errors, dropped, (lastDone - started) / 1000);
}

/** The load child: a grpc-js client process driven by the parent over IPC. */
async function loadChild(): Promise<void> {
  let api: ReturnType<typeof createGrpcJsClient<typeof AnalysisService>> | undefined;
  let health: ReturnType<typeof createGrpcJsClient<typeof healthV1.Health>> | undefined;
  let jobs: readonly string[] = [];
  const call = (target: Target, label: string): ((i: number) => Promise<unknown>) => {
    if (api === undefined || health === undefined) throw new Error("load child: no setup yet");
    const a = api;
    const h = health;
    const options = { timeoutMs: CALL_TIMEOUT_MS };
    if (target === "health") return () => h.unary("check", { service: "" }, options);
    if (target === "get") return (i) => a.unary("getAnalysis", { jobId: jobs[i % jobs.length] ?? "" }, options);
    return (i) => a.unary("submitAnalysis", { imageRef: `oci:/img:${label}-${i}`, imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING }, options);
  };
  process.on("message", (command: Command) => {
    void (async () => {
      if (command.kind === "setup") {
        api = createGrpcJsClient(AnalysisService, command.url, { metadata: { authorization: `Bearer ${command.token}` } });
        health = createGrpcJsClient(healthV1.Health, command.url);
        jobs = command.jobs;
        process.send?.({ done: true });
      } else if (command.kind === "closed" || command.kind === "open") {
        const cpu = process.cpuUsage();
        const load =
          command.kind === "closed"
            ? await closedLoop(command.concurrency, command.ms, call(command.target, command.label))
            : await openLoop(command.rate, command.ms, call(command.target, `r${command.rate}`));
        const used = process.cpuUsage(cpu);
        process.send?.({ ...load, clientCpuMs: (used.user + used.system) / 1000 } satisfies Load);
      } else {
        api?.close();
        health?.close();
        process.disconnect();
      }
    })();
  });
}

/** Sends a command to the load child and waits for its answer, timing this process's CPU meanwhile. */
function ask(child: ChildProcess, command: Command): Promise<{ load: Load; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const cpu = process.cpuUsage();
    const startUs = process.hrtime.bigint() / 1000n;
    const onExit = (code: number | null): void => reject(new Error(`load child exited (${code})`));
    child.once("exit", onExit);
    child.once("message", (load: Load) => {
      child.off("exit", onExit);
      const used = process.cpuUsage(cpu);
      // With --phase-marks: each phase's monotonic start and end (µs), to cut a --cpu-prof profile by phase.
      if (process.argv.includes("--phase-marks"))
        process.stderr.write(`phase ${command.kind === "setup" ? "setup" : JSON.stringify(command)} ${startUs} ${process.hrtime.bigint() / 1000n}\n`);
      resolve({ load, cpuMs: (used.user + used.system) / 1000 });
    });
    child.send(command);
  });
}

const ms = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : "∞");

async function main(): Promise<void> {
  const seconds = Number(arg("--seconds", "5"));
  const levels = list("--concurrency", "1,8,32,64,128");
  const rates = list("--rates", "100,250,500");
  const submitLevels = list("--submit-concurrency", "1,8,32");
  const loadAtStart = loadavg();
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
  const child = fork(fileURLToPath(import.meta.url), ["--load-child"], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    // 200 finished jobs to read (no findings: COMPLETE at submit).
    const jobs: string[] = [];
    for (let i = 0; i < 200; i++) {
      jobs.push((await api.unary("submitAnalysis", { imageRef: `oci:/img:${i}`, imageDigest: DIGEST, vulnerabilityReport: NO_FINDING })).jobId);
    }
    await ask(child, { kind: "setup", url: orchestrator.url, token: credentials.devToken, jobs });
    await ask(child, { kind: "closed", target: "get", concurrency: 8, ms: 1500, label: "warm" });
    await ask(child, { kind: "closed", target: "health", concurrency: 8, ms: 1000, label: "warm" });
    const row = (what: string | number, get: { load: Load; cpuMs: number }, base: { load: Load; cpuMs: number }): string => {
      const g = get.load;
      const b = base.load;
      const perCall = (x: { load: Load; cpuMs: number }): string => ms(x.cpuMs / Math.max(1, x.load.ok + x.load.errors));
      const clientPerCall = ms((g.clientCpuMs ?? Number.NaN) / Math.max(1, g.ok + g.errors));
      return `| ${what} | ${g.rps.toFixed(0)} | ${ms(g.p50)} | ${ms(g.p99)} | ${g.errors + g.dropped} | ${perCall(get)} | ${clientPerCall} | ${b.rps.toFixed(0)} | ${ms(b.p50)} | ${ms(b.p99)} | ${perCall(base)} | ${(g.p99 / b.p99).toFixed(1)}x |`;
    };
    const closedRows: string[] = [];
    for (const c of levels) {
      const base = await ask(child, { kind: "closed", target: "health", concurrency: c, ms: seconds * 1000, label: "" });
      const get = await ask(child, { kind: "closed", target: "get", concurrency: c, ms: seconds * 1000, label: "" });
      closedRows.push(row(c, get, base));
      process.stderr.write(`concurrency ${c} done\n`);
    }
    const openRows: string[] = [];
    for (const rate of rates) {
      const base = await ask(child, { kind: "open", target: "health", rate, ms: seconds * 1000 });
      const get = await ask(child, { kind: "open", target: "get", rate, ms: seconds * 1000 });
      openRows.push(row(rate, get, base));
      process.stderr.write(`rate ${rate}/s done\n`);
    }
    const submitRows: string[] = [];
    for (const c of submitLevels) {
      const { load: s, cpuMs } = await ask(child, { kind: "closed", target: "submit", concurrency: c, ms: seconds * 1000, label: `s${c}` });
      submitRows.push(`| ${c} | ${s.rps.toFixed(0)} | ${ms(s.p50, 1)} | ${ms(s.p99, 1)} | ${s.errors} | ${ms(cpuMs / Math.max(1, s.ok + s.errors))} |`);
    }
    const fmt = (l: number[]): string => l.map((x) => x.toFixed(2)).join(" ");
    console.log(
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}; load average (1/5/15 min) at start ${fmt(loadAtStart)}, at end ${fmt(loadavg())}`,
    );
    const header = (first: string): void => {
      console.log(
        `| ${first} | GetAnalysis req/s | p50 ms | p99 ms | errors | server CPU ms/call | client CPU ms/call | health req/s | p50 ms | p99 ms | server CPU ms/call | p99 vs health |`,
      );
      console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    };
    if (closedRows.length > 0) {
      console.log("\nGetAnalysis over grpc-js (JWT verified, tenancy, one job read), closed loop, beside the health check (same run, same concurrency):\n");
      header("concurrency");
      for (const r of closedRows) console.log(r);
    }
    if (openRows.length > 0) {
      console.log(
        "\nGetAnalysis at a fixed arrival rate (open loop; latency from each call's scheduled send time; errors include calls dropped past 4,000 outstanding), beside the health check at the same rate:\n",
      );
      header("rate /s");
      for (const r of openRows) console.log(r);
    }
    if (submitRows.length > 0) {
      console.log("\nSubmitAnalysis (one finding: validated, quota taken, inserted, analysis.requested published; no sandbox consumes):\n");
      console.log("| concurrency | submits/s | p50 ms | p99 ms | errors | server CPU ms/call |");
      console.log("| --- | --- | --- | --- | --- | --- |");
      for (const r of submitRows) console.log(r);
    }
  } finally {
    if (child.connected) child.send({ kind: "exit" } satisfies Command);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const timer = setTimeout(() => child.kill(), 5000);
    if (child.exitCode === null && child.signalCode === null) await exited;
    clearTimeout(timer);
    api.close();
    await orchestrator.close();
    await nats.stop();
    await pg.stop();
    await dir.remove();
  }
}

if (process.argv.includes("--load-child")) await loadChild();
else await main();
