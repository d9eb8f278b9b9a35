/**
 * The mesh's Prometheus metrics, one place for their names, units and labels. Each service
 * records through these functions; the numbers reach Prometheus only when startTelemetry was
 * given METRICS_PORT (otherwise the OpenTelemetry API's no-op meter drops them at no cost).
 * Counters are per process: Prometheus sums the replicas.
 *
 * | metric | type | labels | what |
 * | --- | --- | --- | --- |
 * | vexxy_jobs_submitted_total | counter | | jobs accepted by SubmitAnalysis and dispatched |
 * | vexxy_jobs_finished_total | counter | status | jobs that reached COMPLETE, FAILED or CANCELLED |
 * | vexxy_analysis_duration_seconds | histogram | status | submit to final status |
 * | vexxy_stage_failures_total | counter | stage, reason | failures reported by a stage (sandbox failures: stage="sandbox") |
 * | vexxy_events_consumed_total | counter | subject, outcome | event deliveries handled: ack, retry (redelivered later), terminate |
 * | vexxy_event_handling_duration_seconds | histogram | subject | one delivery's handler time |
 * | vexxy_queue_depth | gauge | consumer, subject, state | a durable consumer's messages: pending (not yet delivered) and ack_pending; every replica reports the shared consumer, so take the max, not the sum |
 * | vexxy_traces_total | counter | tracer, complete | traces the profiler finished and built a profile from; complete="false" when the tracer lost events |
 * | vexxy_trace_events_total | counter | tracer, access | successful file uses those traces recorded, by access (open, exec, exec_script, mmap_exec) |
 */
import { metrics, type Counter, type Histogram, type MeterProvider, type ObservableCallback, type ObservableGauge } from "@opentelemetry/api";

interface Instruments {
  readonly jobsSubmitted: Counter;
  readonly jobsFinished: Counter;
  readonly analysisDuration: Histogram;
  readonly stageFailures: Counter;
  readonly eventsConsumed: Counter;
  readonly eventHandling: Histogram;
  readonly queueDepth: ObservableGauge;
  readonly traces: Counter;
  readonly traceEvents: Counter;
}

let instruments: { readonly provider: MeterProvider; readonly made: Instruments } | undefined;

// Made from the global meter provider of the moment, and again when it changes: instruments made
// from the no-op provider before startTelemetry registered the real one would stay no-ops.
function get(): Instruments {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments.made;
  const meter = provider.getMeter("vexxy");
  const seconds = { unit: "s", advice: { explicitBucketBoundaries: [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800] } };
  const made: Instruments = {
    jobsSubmitted: meter.createCounter("vexxy_jobs_submitted", { description: "jobs accepted by SubmitAnalysis and dispatched" }),
    jobsFinished: meter.createCounter("vexxy_jobs_finished", { description: "jobs that reached a final status" }),
    analysisDuration: meter.createHistogram("vexxy_analysis_duration_seconds", { description: "time from submit to final status", ...seconds }),
    stageFailures: meter.createCounter("vexxy_stage_failures", { description: "failures reported by a stage" }),
    eventsConsumed: meter.createCounter("vexxy_events_consumed", { description: "event deliveries handled, by outcome" }),
    eventHandling: meter.createHistogram("vexxy_event_handling_duration_seconds", { description: "one event delivery's handler time", ...seconds }),
    queueDepth: meter.createObservableGauge("vexxy_queue_depth", {
      description: "messages of a durable consumer not yet delivered (pending) or delivered and not yet acknowledged (ack_pending)",
    }),
    traces: meter.createCounter("vexxy_traces", { description: "traces finished into a profile, complete or not" }),
    traceEvents: meter.createCounter("vexxy_trace_events", { description: "successful file uses recorded by finished traces, by access" }),
  };
  instruments = { provider, made };
  return made;
}

/** A job was accepted and dispatched. */
export function recordJobSubmitted(): void {
  get().jobsSubmitted.add(1);
}

/** A job reached `status` (COMPLETE, FAILED, CANCELLED) `seconds` after it was submitted. */
export function recordJobFinished(status: string, seconds: number): void {
  const m = get();
  m.jobsFinished.add(1, { status });
  if (Number.isFinite(seconds) && seconds >= 0) m.analysisDuration.record(seconds, { status });
}

/** A stage reported a failure (retried or final). */
export function recordStageFailure(stage: string, reason: string): void {
  get().stageFailures.add(1, { stage, reason: reason === "" ? "unknown" : reason });
}

/** One event delivery ended with `outcome` (ack, retry, terminate) after `seconds` in its handler. */
export function recordEventConsumed(subject: string, outcome: "ack" | "retry" | "terminate", seconds: number): void {
  const m = get();
  m.eventsConsumed.add(1, { subject, outcome });
  m.eventHandling.record(seconds, { subject });
}

/** One durable consumer's backlog as JetStream reports it. */
export interface QueueDepth {
  readonly consumer: string;
  readonly subject: string;
  /** Messages not yet delivered to any subscriber. */
  readonly pending: number;
  /** Delivered and not yet acknowledged. */
  readonly ackPending: number;
}

/**
 * Reports the backlog `read` returns each time Prometheus scrapes; returns the function that
 * stops reporting. A failing read reports nothing for that scrape.
 */
export function observeQueueDepth(read: () => Promise<readonly QueueDepth[]>): () => void {
  const gauge = get().queueDepth;
  const callback: ObservableCallback = async (result) => {
    const depths = await read().catch(() => []);
    for (const d of depths) {
      result.observe(d.pending, { consumer: d.consumer, subject: d.subject, state: "pending" });
      result.observe(d.ackPending, { consumer: d.consumer, subject: d.subject, state: "ack_pending" });
    }
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

/** The parts of a finished trace's profile (an ExecutionProfile fits) that the trace metrics count. */
export interface TracedProfile {
  readonly tracer: string;
  readonly complete: boolean;
  /** File uses by identity, each with its count of successful uses. */
  readonly uses: readonly { readonly access: string; readonly count: bigint }[];
  /** Uses by path, kept when the tracer reports no identities (then `uses` is empty). */
  readonly files: readonly { readonly access: string; readonly countOk: bigint }[];
}

/**
 * A trace was finished into `profile`: counts the trace (vexxy_traces_total) and its successful
 * file uses by access (vexxy_trace_events_total), from `uses` when the profile has them, else
 * from the successful counts of its `files`.
 */
export function recordTraceFinished(profile: TracedProfile): void {
  const m = get();
  const tracer = profile.tracer === "" ? "unknown" : profile.tracer;
  m.traces.add(1, { tracer, complete: String(profile.complete) });
  const byAccess = new Map<string, bigint>();
  const entries = profile.uses.length > 0 ? profile.uses.map((u) => [u.access, u.count] as const) : profile.files.map((f) => [f.access, f.countOk] as const);
  for (const [access, count] of entries) byAccess.set(access, (byAccess.get(access) ?? 0n) + count);
  for (const [access, count] of byAccess) if (count > 0n) m.traceEvents.add(Number(count), { tracer, access });
}
