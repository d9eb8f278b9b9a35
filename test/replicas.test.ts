import { strict as assert } from "node:assert";
import { fromBinary } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { STREAM_NAME, Subjects } from "@vexxy/events";
import {
  AnalysisService,
  AnalysisStatus,
  SandboxCompletedSchema,
  SandboxStartedSchema,
  type Analysis,
  type SandboxCompleted,
  type SandboxStarted,
} from "@vexxy/proto";
import { createBlobStore } from "@vexxy/blobstore";
import { SERVICE_NAMES, type EmbeddedStack } from "@vexxy/deploy-local";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { demoInput, demoSubmit, isFinalStatus, startMesh, type DemoInput } from "./support/mesh.js";
import { waitForNoContainers } from "./support/runc.js";

/** Every message stored on subject, decoded. */
async function storedEvents<T>(natsUrl: string, subject: string, decode: (data: Uint8Array) => T): Promise<T[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const consumer = await jetstream(nc).consumers.get(STREAM_NAME, { filter_subjects: subject });
    const out: T[] = [];
    const pending = (await consumer.info()).num_pending;
    if (pending === 0) return out;
    const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
    for await (const m of messages) {
      out.push(decode(m.data));
      if (out.length >= pending) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

const started = (natsUrl: string) => storedEvents(natsUrl, Subjects.sandboxStarted, (d) => fromBinary(SandboxStartedSchema, d));
const completed = (natsUrl: string) => storedEvents(natsUrl, Subjects.sandboxCompleted, (d) => fromBinary(SandboxCompletedSchema, d));

type Api = Client<typeof AnalysisService>;

/**
 * A Connect (gRPC) client of one orchestrator replica, sending the stack's dev bearer token when
 * the stack issues one.
 */
function replicaClient(stack: EmbeddedStack, replica: number): Api {
  const token = (stack as { devToken?: string }).devToken;
  const bearer: Interceptor = (next) => async (req) => {
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    return await next(req);
  };
  return createClient(AnalysisService, createGrpcTransport({ baseUrl: stack.replicaUrls.orchestrator[replica]!, interceptors: [bearer] }));
}

/** Polls GetAnalysis until pred holds; returns the analysis. */
async function waitFor(client: Api, jobId: string, pred: (a: Analysis) => boolean, timeoutMs: number): Promise<Analysis> {
  const deadline = Date.now() + timeoutMs;
  let last: Analysis | undefined;
  while (Date.now() < deadline) {
    last = (await client.getAnalysis({ jobId })).analysis;
    if (last !== undefined && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `job ${jobId} not as expected within ${timeoutMs} ms (last: ${last ? `${AnalysisStatus[last.status]} ${last.currentPhase} ${last.errorMessage}` : "none"})`,
  );
}

/** Follows WatchAnalysis until the job ends; returns every update seen. */
async function watchToEnd(client: Api, jobId: string): Promise<Analysis[]> {
  const seen: Analysis[] = [];
  for await (const update of client.watchAnalysis({ jobId })) {
    if (update.analysis === undefined) continue;
    seen.push(update.analysis);
    if (isFinalStatus(update.analysis.status)) break;
  }
  return seen;
}

/** A run long enough to act in the middle of it. */
function heldRun(demo: DemoInput, seconds: number) {
  return demoSubmit(demo, { config: { testTimeoutSeconds: 120, environment: { DEMO_SLEEP_SECONDS: String(seconds) }, ports: [], testScript: "" } });
}

describe("two replicas of every service (embedded mesh: each service twice, on its own port)", function () {
  this.timeout(900000);
  let stack: EmbeddedStack;
  let demo: DemoInput;
  /** The first orchestrator replica, and the second: a watcher there sees what the first applied. */
  let first: Api;
  let second: Api;

  before(async () => {
    demo = await demoInput();
    // Ten service processes on a shared 2-core machine: bpftrace has taken over 10 s to attach.
    stack = await startMesh({
      replicas: 2,
      startTimeoutMs: 480000,
      serviceEnv: { profiler: { TRACE_ATTACH_TIMEOUT_MS: "60000" }, sandbox: { TRACE_ATTACH_TIMEOUT_MS: "90000" } },
    });
    first = replicaClient(stack, 0);
    second = replicaClient(stack, 1);
  });
  after(async () => {
    await stack?.stop();
  });

  async function vexDocumentsOf(jobId: string): Promise<string[]> {
    return (await createBlobStore(stack.blobStoreUrl).list(`jobs/${jobId}/`)).filter((k) => k.endsWith("openvex.json"));
  }

  it("runs every service as two processes with distinct ports, and each sandbox talks to its own profiler replica", () => {
    for (const name of SERVICE_NAMES) {
      assert.equal(stack.replicas[name].length, 2, name);
      assert.ok(
        stack.replicas[name].every((p) => p.running),
        `${name} replicas running`,
      );
      assert.equal(new Set(stack.replicaUrls[name]).size, 2, `${name} replicas on distinct ports`);
    }
    assert.equal(stack.urls.orchestrator, stack.replicaUrls.orchestrator[0]);
  });

  it("completes the demo analysis with the same verdicts as with one replica, watched on the other orchestrator replica", async () => {
    const submitted = await first.submitAnalysis(demoSubmit(demo));
    const updates = await watchToEnd(second, submitted.jobId);
    const last = updates.at(-1);
    assert.equal(last?.status, AnalysisStatus.COMPLETE, `ended ${last ? AnalysisStatus[last.status] : "?"}: ${last?.errorMessage}`);
    assert.ok(
      updates.some((u) => u.status === AnalysisStatus.RUNNING),
      "the watcher on the second replica saw RUNNING",
    );
    const results = await second.getAnalysisResults({ jobId: submitted.jobId });
    assert.ok(results.executionProfile?.traceComplete, `trace complete (loss: ${results.executionProfile?.lossReasons.join(",")})`);
    for (const want of demo.expected) {
      const got = results.reachabilityResults.find((r) => r.cveId === want.vulnerability && r.packageName === want.package);
      assert.ok(got !== undefined, `a result for ${want.vulnerability} in ${want.package}`);
      assert.equal(got.status, want.status, `${want.vulnerability}/${want.package}: ${got.reason}`);
      if (want.justification !== undefined) assert.equal(got.justification, want.justification);
    }
    const run = (await completed(stack.natsUrl)).find((c) => c.job?.jobId === submitted.jobId);
    assert.match(run?.sandboxInstanceId ?? "", /^sandbox-[0-9a-f]{12}$/);
    assert.match(run?.profilerInstanceId ?? "", /^profiler-[0-9a-f]{12}$/, "sandbox.completed names the profiler holding the trace");
  });

  it("cancels a RUNNING job: CANCELLED, and its container is gone within seconds whichever sandbox replica runs it", async () => {
    const jobs = await Promise.all([0, 1].map(async () => (await first.submitAnalysis(heldRun(demo, 90))).jobId));
    await Promise.all(jobs.map((jobId) => waitFor(first, jobId, (a) => a.status === AnalysisStatus.RUNNING, 240000)));
    // The container runs once sandbox.started is out.
    const deadline = Date.now() + 60000;
    let runs: SandboxStarted[] = [];
    while (Date.now() < deadline) {
      runs = (await started(stack.natsUrl)).filter((s) => jobs.includes(s.job?.jobId ?? ""));
      if (runs.length === jobs.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(runs.length, jobs.length, "both runs started");
    const cancelledAt = Date.now();
    for (const jobId of jobs) await second.cancelAnalysis({ jobId });
    for (const jobId of jobs) {
      const end = await waitFor(first, jobId, (a) => isFinalStatus(a.status), 60000);
      assert.equal(end.status, AnalysisStatus.CANCELLED);
      assert.deepEqual(await waitForNoContainers(`vexxy-${jobId.slice(0, 12)}`, 20000), [], `the container of ${jobId} is gone`);
    }
    const seconds = (Date.now() - cancelledAt) / 1000;
    assert.ok(seconds < 30, `torn down ${seconds.toFixed(1)} s after the cancel, not at the 90 s run's end`);
  });

  it("completes 10 jobs submitted at once, each with exactly one sandbox run and one VEX", async () => {
    const before = new Set((await started(stack.natsUrl)).map((s) => s.job?.jobId));
    const jobs = await Promise.all(Array.from({ length: 10 }, async () => (await first.submitAnalysis(demoSubmit(demo))).jobId));
    for (const jobId of jobs) {
      const end = await waitFor(first, jobId, (a) => isFinalStatus(a.status), 480000);
      assert.equal(end.status, AnalysisStatus.COMPLETE, `${jobId}: ${end.errorMessage}`);
      // An attempt whose tracer did not attach in time never started its workload (no
      // sandbox.started) and is retried: still one sandbox run per job.
      assert.deepEqual(await vexDocumentsOf(jobId), [`jobs/${jobId}/attempts/${end.attempt}/openvex.json`]);
    }
    const runs = (await started(stack.natsUrl)).filter((s) => jobs.includes(s.job?.jobId ?? "") && !before.has(s.job?.jobId));
    for (const jobId of jobs) assert.equal(runs.filter((s) => s.job?.jobId === jobId).length, 1, `one sandbox run of ${jobId}`);
    const sandboxes = new Set(runs.map((s) => s.sandboxInstanceId));
    const profilers = new Set(runs.map((s) => s.profilerInstanceId));
    assert.equal(sandboxes.size, 2, "both sandbox replicas ran jobs");
    assert.equal(profilers.size, 2, "both profiler replicas traced jobs");
    const done: SandboxCompleted[] = (await completed(stack.natsUrl)).filter((c) => jobs.includes(c.job?.jobId ?? ""));
    assert.equal(done.length, 10);
  });

  it("still completes every job when one replica of each service is killed (SIGKILL) mid-job", async () => {
    const jobs = await Promise.all(Array.from({ length: 4 }, async () => (await first.submitAnalysis(heldRun(demo, 15))).jobId));
    await Promise.all(jobs.map((jobId) => waitFor(first, jobId, (a) => a.status === AnalysisStatus.RUNNING, 240000)));
    await new Promise((r) => setTimeout(r, 3000));
    for (const name of SERVICE_NAMES) await stack.kill(name, 1);
    for (const jobId of jobs) {
      const end = await waitFor(first, jobId, (a) => isFinalStatus(a.status), 480000);
      assert.equal(end.status, AnalysisStatus.COMPLETE, `${jobId}: ${end.errorMessage}`);
      const results = await first.getAnalysisResults({ jobId });
      assert.ok(results.executionProfile?.traceComplete, `${jobId}: the completing attempt had a complete trace`);
      assert.deepEqual(await vexDocumentsOf(jobId), [`jobs/${jobId}/attempts/${end.attempt}/openvex.json`]);
    }
    for (const jobId of jobs) assert.deepEqual(await waitForNoContainers(`vexxy-${jobId.slice(0, 12)}`, 30000), []);
  });
});
