/**
 * One trace per job across the whole mesh: each service process writes its spans as JSON lines
 * (OTEL_SPANS_FILE), the demo job runs through the real embedded stack, and the files show the
 * SubmitAnalysis server span as the root of a trace that holds a consumer span in every one of
 * the five services, each span's parent in the same trace (W3C traceparent carried in the NATS
 * headers of every event, and in the StartTrace call's metadata); each event's consumer span is
 * the child of the PRODUCER span that published it. The services' JSON logs carry the same trace
 * id, the orchestrator's Prometheus endpoint counts the job and the profiler's counts its trace.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnalysisStatus } from "@vexxy/proto";
import type { SpanRecord } from "@vexxy/platform";
import type { EmbeddedStack } from "@vexxy/deploy-local";
import { freePort } from "@vexxy/testkit";
import { apiClient, demoInput, demoSubmit, startMesh, watchToEnd, type ApiClient, type DemoInput } from "./support/mesh.js";

const SERVICES = ["orchestrator", "sandbox", "profiler", "reachability", "vex"] as const;

async function readSpans(dir: string): Promise<SpanRecord[]> {
  const spans: SpanRecord[] = [];
  for (const name of SERVICES) {
    const text = await readFile(join(dir, `${name}.jsonl`), "utf8").catch(() => "");
    for (const line of text.split("\n")) if (line.trim() !== "") spans.push(JSON.parse(line) as SpanRecord);
  }
  return spans;
}

describe("tracing: one trace covers a demo job in all five services", function () {
  this.timeout(600_000);
  let dir = "";
  let stack: EmbeddedStack | undefined;
  let client: ApiClient | undefined;
  let demo: DemoInput;
  let metricsPort: number;
  let profilerMetricsPort: number;

  before(async () => {
    demo = await demoInput();
    dir = await mkdtemp(join(tmpdir(), "vexxy-spans-"));
    // Generous start timeout: five tsx-compiled services on a shared 2-core machine.
    metricsPort = await freePort();
    profilerMetricsPort = await freePort();
    const spansFile = (name: string) => ({ OTEL_SPANS_FILE: join(dir, `${name}.jsonl`) });
    stack = await startMesh({
      startTimeoutMs: 300_000,
      serviceEnv: {
        ...Object.fromEntries(SERVICES.map((name) => [name, spansFile(name)])),
        orchestrator: { ...spansFile("orchestrator"), METRICS_PORT: String(metricsPort) },
        // bpftrace's attach has taken over 10 s on this shared 2-core machine under load.
        profiler: { ...spansFile("profiler"), TRACE_ATTACH_TIMEOUT_MS: "60000", METRICS_PORT: String(profilerMetricsPort) },
        sandbox: { ...spansFile("sandbox"), TRACE_ATTACH_TIMEOUT_MS: "90000" },
      },
    });
    client = apiClient(stack);
  });

  after(async () => {
    client?.close();
    await stack?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("the SubmitAnalysis span is the root of a trace holding each service's consumer spans for the job, every parent inside the trace, and the logs carry its trace id", async () => {
    assert.ok(client && stack);
    const submitted = await client.unary("submitAnalysis", demoSubmit(demo));
    const updates = await watchToEnd(client, submitted.jobId);
    assert.equal(updates.at(-1)?.status, AnalysisStatus.COMPLETE, `ended: ${updates.at(-1)?.errorMessage}`);

    // The orchestrator's consumer of vex.signed ends its span right after the job turns COMPLETE.
    const deadline = Date.now() + 15_000;
    let spans = await readSpans(dir);
    const root = () => spans.find((s) => s.name === "vexxy.orchestrator.v1.AnalysisService/SubmitAnalysis" && s.kind === "SERVER" && s.status !== "ERROR");
    const jobSpans = () => spans.filter((s) => s.traceId === root()?.traceId);
    while (Date.now() < deadline && !jobSpans().some((s) => s.service === "vexxy-orchestrator" && s.name === "vexxy.vex.signed process")) {
      await new Promise((r) => setTimeout(r, 250));
      spans = await readSpans(dir);
    }
    const submit = root();
    assert.ok(submit, "the orchestrator wrote a SubmitAnalysis server span");
    assert.equal(submit.parentSpanId, undefined, "SubmitAnalysis starts the trace (the caller sent no traceparent)");
    const trace = jobSpans();

    assert.deepEqual([...new Set(trace.map((s) => s.service))].sort(), SERVICES.map((n) => `vexxy-${n}`).sort());
    assert.ok(
      trace.some((s) => s.service === "vexxy-profiler" && s.kind === "SERVER" && s.name === "vexxy.profiler.v1.ProfilerService/StartTrace"),
      "the sandbox's StartTrace call carried the trace to the profiler",
    );
    const consumers = trace.filter((s) => s.kind === "CONSUMER");
    for (const name of SERVICES) {
      assert.ok(
        consumers.some((s) => s.service === `vexxy-${name}`),
        `${name} has a consumer span in the job's trace`,
      );
    }
    for (const subject of ["vexxy.analysis.requested", "vexxy.sandbox.completed", "vexxy.profile.ready", "vexxy.reachability.scored", "vexxy.vex.signed"]) {
      assert.ok(
        consumers.some((s) => s.name === `${subject} process`),
        `the ${subject} event was consumed inside the job's trace`,
      );
    }
    assert.deepEqual(
      consumers.filter((s) => s.attributes["vexxy.job_id"] !== submitted.jobId).map((s) => `${s.service} ${s.name}`),
      [],
      "every consumer span names the job",
    );
    // Each hop's producer side: the consumer span's parent is the PRODUCER span that published
    // that very message.
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    assert.deepEqual(
      consumers
        .filter((c) => {
          const parent = c.parentSpanId === undefined ? undefined : byId.get(c.parentSpanId);
          return (
            parent?.kind !== "PRODUCER" ||
            parent.name !== c.name.replace(/ process$/, " publish") ||
            parent.attributes["messaging.message.id"] !== c.attributes["messaging.message.id"] ||
            parent.attributes["messaging.system"] !== "nats" ||
            parent.attributes["messaging.destination.name"] !== c.attributes["messaging.destination.name"]
          );
        })
        .map((c) => `${c.service} ${c.name}`),
      [],
      "every consumer span is the child of the publish span of its message",
    );
    const ids = new Set(trace.map((s) => s.spanId));
    assert.deepEqual(
      trace.filter((s) => s !== submit && (s.parentSpanId === undefined || !ids.has(s.parentSpanId))).map((s) => `${s.service} ${s.name}`),
      [],
      "every span but the root has its parent in the trace",
    );
    // No other trace holds this job's events: a hop that lost the traceparent would start one.
    assert.deepEqual(
      spans.filter((s) => s.traceId !== submit.traceId && s.attributes["vexxy.job_id"] === submitted.jobId).map((s) => `${s.service} ${s.name}`),
      [],
    );

    const logged: string[] = [];
    for (const name of SERVICES) {
      const text = await readFile(join(stack.logDir, `${name}.log`), "utf8");
      if (text.split("\n").some((line) => line.includes(`"traceId":"${submit.traceId}"`))) logged.push(name);
    }
    assert.ok(logged.length > 0, "some service logged a line carrying the job's trace id");
  });

  it("the orchestrator serves Prometheus metrics counting the job submitted and completed, its duration, the events it consumed, and its consumers' empty queues", async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    const value = (series: string): number | undefined => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1).split(" ")[0]);
    };
    assert.equal(value("vexxy_jobs_submitted_total"), 1, text);
    assert.equal(value('vexxy_jobs_finished_total{status="COMPLETE"}'), 1, text);
    assert.equal(value('vexxy_analysis_duration_seconds_count{status="COMPLETE"}'), 1, text);
    assert.ok((value('vexxy_analysis_duration_seconds_sum{status="COMPLETE"}') ?? 0) > 1, "the job took more than a second");
    assert.equal(value('vexxy_events_consumed_total{subject="vexxy.vex.signed",outcome="ack"}'), 1, text);
    assert.equal(value('vexxy_jobs_finished_total{status="FAILED"}'), undefined, "no job failed");
    const depth = text.split("\n").filter((l) => l.startsWith("vexxy_queue_depth{"));
    assert.ok(
      depth.some((l) => l.includes('subject="vexxy.vex.signed"') && l.includes('state="pending"')),
      `the backlog of the orchestrator's vex.signed consumer is reported:\n${depth.join("\n")}`,
    );
    assert.ok(
      depth.every((l) => Number(l.slice(l.lastIndexOf("} ") + 2).split(" ")[0]) === 0),
      `nothing is left in the queues once the job completed:\n${depth.join("\n")}`,
    );
  });

  it("the profiler serves Prometheus metrics counting the job's trace and the file uses it recorded", async () => {
    const response = await fetch(`http://127.0.0.1:${profilerMetricsPort}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    const series = (prefix: string) => text.split("\n").filter((l) => l.startsWith(prefix));
    const sampleOf = (line: string) => Number(line.slice(line.lastIndexOf("} ") + 2).split(" ")[0]);
    const traces = series("vexxy_traces_total{");
    assert.deepEqual(traces.map(sampleOf), [1], `one finished trace:\n${traces.join("\n")}`);
    assert.ok(traces[0]?.includes('complete="true"'), `the demo's trace is complete:\n${traces.join("\n")}`);
    const events = series("vexxy_trace_events_total{");
    for (const access of ["open", "exec"]) {
      const line = events.find((l) => l.includes(`access="${access}"`));
      assert.ok(line !== undefined && sampleOf(line) > 0, `the trace recorded ${access} uses:\n${events.join("\n")}`);
    }
  });
});
