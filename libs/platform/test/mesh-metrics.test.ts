import assert from "node:assert/strict";
import { metrics } from "@opentelemetry/api";
import { metrics as sdkMetrics } from "@opentelemetry/sdk-node";
import { recordJobSubmitted, recordTraceFinished, type TracedProfile } from "@vexxy/platform";

/** Collects on demand, like Prometheus's scrape does. */
class PullReader extends sdkMetrics.MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Point {
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly value: unknown;
}

describe("mesh metrics (an in-memory meter provider read like a scrape)", () => {
  let reader: PullReader;
  let provider: sdkMetrics.MeterProvider;

  beforeEach(() => {
    reader = new PullReader();
    provider = new sdkMetrics.MeterProvider({ readers: [reader] });
    // Another test file of this process may have registered a provider: ours replaces it.
    metrics.disable();
    assert.ok(metrics.setGlobalMeterProvider(provider), "the test's meter provider is the global one");
  });

  afterEach(async () => {
    metrics.disable();
    await provider.shutdown();
  });

  async function points(name: string): Promise<Point[]> {
    const { resourceMetrics } = await reader.collect();
    const found = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name);
    return found.flatMap((m) => m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })));
  }

  const value = (ps: Point[], attributes: Record<string, string>): unknown =>
    ps.find((p) => Object.keys(attributes).length === Object.keys(p.attributes).length && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
      ?.value;

  const use = (access: string, count: bigint) => ({ access, count });

  it("counts each finished trace by tracer and completeness, and its successful file uses by access", async () => {
    const complete: TracedProfile = {
      tracer: "bpftrace",
      complete: true,
      uses: [use("open", 3n), use("open", 4n), use("exec", 1n), use("mmap_exec", 2n), use("exec_script", 0n)],
      files: [{ access: "open", countOk: 99n }],
    };
    recordTraceFinished(complete);
    recordTraceFinished({ ...complete, complete: false, uses: [use("open", 5n)] });

    const traces = await points("vexxy_traces");
    assert.equal(value(traces, { tracer: "bpftrace", complete: "true" }), 1);
    assert.equal(value(traces, { tracer: "bpftrace", complete: "false" }), 1);
    const events = await points("vexxy_trace_events");
    // The uses are the record when present: the files' 99 opens are not counted again.
    assert.equal(value(events, { tracer: "bpftrace", access: "open" }), 3 + 4 + 5);
    assert.equal(value(events, { tracer: "bpftrace", access: "exec" }), 1);
    assert.equal(value(events, { tracer: "bpftrace", access: "mmap_exec" }), 2);
    assert.equal(value(events, { tracer: "bpftrace", access: "exec_script" }), undefined, "an access with no use adds no series");
  });

  it("counts a path-only trace's successful opens and execs from its files, and names an empty tracer unknown", async () => {
    recordTraceFinished({
      tracer: "strace",
      complete: true,
      uses: [],
      files: [
        { access: "open", countOk: 6n },
        { access: "open", countOk: 2n },
        { access: "exec", countOk: 1n },
      ],
    });
    recordTraceFinished({ tracer: "", complete: false, uses: [], files: [] });
    const events = await points("vexxy_trace_events");
    assert.equal(value(events, { tracer: "strace", access: "open" }), 8);
    assert.equal(value(events, { tracer: "strace", access: "exec" }), 1);
    const traces = await points("vexxy_traces");
    assert.equal(value(traces, { tracer: "unknown", complete: "false" }), 1);
    assert.equal(value(traces, { tracer: "strace", complete: "true" }), 1);
  });

  it("re-makes its instruments when the global provider changes, so counts made before telemetry started are not lost to a no-op", async () => {
    metrics.disable();
    recordJobSubmitted();
    assert.deepEqual(await points("vexxy_jobs_submitted"), [], "the no-op provider drops the count");
    metrics.setGlobalMeterProvider(provider);
    recordJobSubmitted();
    recordJobSubmitted();
    assert.equal(value(await points("vexxy_jobs_submitted"), {}), 2);
  });
});
