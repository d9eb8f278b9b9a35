/**
 * Consumes vexxy.sandbox.completed, vexxy.sandbox.failed and vexxy.analysis.cancelled twice:
 * on the service's shared durable ("profiler", each event to one replica) and on this
 * process's own fan-out consumer ("profiler-<instance>", every event to every replica), because
 * a live trace exists only in the process that attached it (TraceRegistry).
 *
 * sandbox.completed names the profiler holding the trace (profiler_instance_id, from the
 * StartTrace answer). That process, through its fan-out consumer, stops the attempt's trace,
 * writes the raw Tracee-shaped events (jobs/<job>/attempts/<n>/events.jsonl) and the
 * execution profile (…/profile.json, protobuf JSON), records them in the ledger and publishes
 * vexxy.profile.ready. The shared durable handles the event itself only when no profiler is
 * named (a sandbox from before replicas), or when the named one is gone (no presence answer:
 * it died or restarted mid-run and its tracer died with it); nothing was then recorded that
 * could be trusted: it publishes vexxy.analysis.failed {stage "profiler", reason "trace_lost",
 * retryable true} — never a profile that claims completeness. While the named one is alive the
 * shared durable leaves the event to it; if it dies before finishing, the orchestrator's
 * reconciler re-drives the job.
 * sandbox.failed / analysis.cancelled: every replica stops and throws away its live trace of
 * the job (fan-out), and the ledger row is marked cancelled.
 * The claim, replay, record and publish are the shared stage lifecycle (@vexxy/stage); the row
 * was claimed by StartTrace, so a completion continues it.
 * Failure: an unreachable store or database throws and the event is redelivered (to the same
 * process on its fan-out consumer). A presence probe without an answer throws too (redelivered
 * later). Redelivery: a done row re-publishes the recorded profile.ready; a lost row its failure.
 */
import { create, toJsonString } from "@bufbuild/protobuf";
import { Durables, Subjects, type EventBus, type InboundEventOf, type Subscription } from "@vexxy/events";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import { recordTraceFinished, type Logger } from "@vexxy/platform";
import { StageFailure, StageLifecycle, analysisFailedPublisher } from "@vexxy/stage";
import { ExecutionProfileSchema, ProfileReadySchema, type JobRef, type ProfileReady, type SandboxCompleted } from "@vexxy/proto";
import { TRACE_RECORD_FORMAT, TRACE_STAGE, type TraceProgress, type TraceRegistry } from "../trace-registry.js";
import { profileFromTrace } from "../ingest/profile-from-trace.js";

export interface ProfilerStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly registry: TraceRegistry;
  readonly tracerName: string;
  readonly logger: Logger;
  /** This process's instance id (named in StartTrace answers). */
  readonly instanceId: string;
}

/** Which consumer delivered an event: the service's shared durable, or this process's own. */
export type Delivery = "shared" | "instance";

const SUBJECTS = [Subjects.sandboxCompleted, Subjects.sandboxFailed, Subjects.analysisCancelled] as const;
type ProfilerEvent = InboundEventOf<(typeof SUBJECTS)[number]>;

/** The failure stage name of a lost trace (analysis.failed {stage "profiler"}). */
const FAILURE_STAGE = "profiler";

/** The trace stage's lifecycle: StartTrace claimed the row, the completion continues it. */
export function traceLifecycle(
  deps: Pick<ProfilerStageDeps, "bus" | "ledger" | "logger" | "instanceId">,
): StageLifecycle<typeof Subjects.profileReady, TraceProgress> {
  return new StageLifecycle(
    { ...TRACE_RECORD_FORMAT, stage: TRACE_STAGE, onStarted: "continue", publishFailure: analysisFailedPublisher(FAILURE_STAGE) },
    deps,
  );
}

/** Starts the shared durable consumer and this process's fan-out consumer. */
export async function consumeSandboxEvents(deps: ProfilerStageDeps, ackWaitMs: number): Promise<Subscription> {
  const lifecycle = traceLifecycle(deps);
  const shared = await deps.bus.consume({ durable: Durables.profiler, subjects: SUBJECTS, ackWaitMs }, (event) =>
    handleSandboxEvent(deps, event, "shared", lifecycle),
  );
  let own: Subscription;
  try {
    own = await deps.bus.consume({ durable: Durables.profiler, subjects: SUBJECTS, ackWaitMs, instance: deps.instanceId }, (event) =>
      handleSandboxEvent(deps, event, "instance", lifecycle),
    );
  } catch (error) {
    await shared.stop();
    throw error;
  }
  return {
    async stop() {
      await Promise.all([shared.stop(), own.stop()]);
    },
  };
}

/** Whether this delivery of sandbox.completed is the one that must handle it (see the file's docblock). */
async function handlesCompletion(deps: ProfilerStageDeps, completed: SandboxCompleted, delivery: Delivery): Promise<boolean> {
  const owner = completed.profilerInstanceId;
  if (delivery === "instance") return owner === deps.instanceId;
  if (owner === "") return true;
  if (owner === deps.instanceId) return false;
  if (deps.bus.instanceAlive === undefined) return true;
  // A probe without an answer throws: the event comes again later.
  return !(await deps.bus.instanceAlive(owner));
}

/** The failure of an attempt whose trace is gone: the run is not evidence; a new attempt may be. */
export function traceLost(message: string): StageFailure {
  return new StageFailure("trace_lost", message, true, { interrupted: true });
}

/** Handles one delivery (exported for tests; delivery "shared" is what a single replica does). */
export async function handleSandboxEvent(
  deps: ProfilerStageDeps,
  event: ProfilerEvent,
  delivery: Delivery = "shared",
  lifecycle = traceLifecycle(deps),
): Promise<void> {
  const job = event.payload.job;
  if (job === undefined || job.jobId === "") return;
  if (event.subject !== Subjects.sandboxCompleted) {
    const session = deps.registry.take(job.jobId, job.attempt);
    if (session !== undefined) await session.discard();
    if ((await lifecycle.get(job.jobId, job.attempt))?.state === "started") await lifecycle.cancel(job, event.subject);
    return;
  }
  const completed = event.payload;
  if (!(await handlesCompletion(deps, completed, delivery))) return;
  await lifecycle.run(job, ({ job: attempt }) => finishTrace(deps, attempt, completed));
}

/**
 * The work: stops the attempt's live trace, stores the raw events and the profile, and returns
 * the profile.ready event.
 * @throws StageFailure trace_lost when this process holds no live trace of the attempt.
 */
async function finishTrace(deps: ProfilerStageDeps, job: JobRef, completed: SandboxCompleted): Promise<ProfileReady> {
  const session = deps.registry.take(job.jobId, job.attempt);
  if (session === undefined) {
    const holder = completed.profilerInstanceId === "" ? "this profiler" : `profiler ${completed.profilerInstanceId}`;
    throw traceLost(`no live trace for attempt ${job.attempt} in ${holder} (it restarted during the run); the run is not evidence`);
  }
  const result = await session.stop();
  const { events, profile } = profileFromTrace(result, session.scope, { outcome: completed.outcome, durationSeconds: completed.durationSeconds });
  recordTraceFinished(profile);
  // The test script's result weighs on the verdicts' confidence, and reachability reads only the profile.
  profile.exercise = [...completed.exercise];
  const base = `jobs/${job.jobId}/attempts/${job.attempt}`;
  const rawEvents = await deps.blobs.put(`${base}/events.jsonl`, Buffer.from(`${events.map((e) => JSON.stringify(e)).join("\n")}\n`), {
    contentType: "application/x-ndjson",
  });
  const profileBlob = await deps.blobs.put(`${base}/profile.json`, Buffer.from(toJsonString(ExecutionProfileSchema, profile, { prettySpaces: 1 })), {
    contentType: "application/json",
  });
  const ref = (b: { key: string; sha256: string; size: number }) => ({ key: b.key, sha256: b.sha256, size: BigInt(b.size) });
  const ready = create(ProfileReadySchema, {
    job,
    profile: ref(profileBlob),
    rawEvents: ref(rawEvents),
    ...(completed.catalogue !== undefined ? { catalogue: completed.catalogue } : {}),
    complete: profile.complete,
    lossReasons: profile.lossReasons,
    outcome: completed.outcome,
    durationSeconds: completed.durationSeconds,
    eventsTraced: profile.eventsTraced,
    filesAccessed: profile.uses.length > 0 ? profile.uses.filter((u) => u.access === "open").length : profile.files.filter((f) => f.access === "open").length,
    executablesRun:
      profile.uses.length > 0
        ? profile.uses.filter((u) => u.access === "exec").length
        : profile.files.filter((f) => f.access === "exec" && f.countOk > 0n).length,
  });
  deps.logger.info("profile ready", { job: job.jobId, attempt: job.attempt, events: events.length, complete: profile.complete, loss: profile.lossReasons });
  return ready;
}
