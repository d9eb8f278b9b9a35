/**
 * Consumes vexxy.sandbox.completed, vexxy.sandbox.failed and vexxy.analysis.cancelled
 * (durable "profiler").
 *
 * sandbox.completed: stops the attempt's trace, writes the raw Tracee-shaped events
 * (jobs/<job>/attempts/<n>/events.jsonl) and the execution profile (…/profile.json, protobuf
 * JSON), records them in the ledger and publishes vexxy.profile.ready. When this process holds
 * no live trace for the attempt (the profiler restarted mid-run and its tracer died with it),
 * nothing was recorded that could be trusted: it publishes vexxy.analysis.failed {stage
 * "profiler", reason "trace_lost", retryable true} — never a profile that claims completeness.
 * sandbox.failed / analysis.cancelled: the trace is stopped and thrown away.
 * Failure: an unreachable store or database throws and the event is redelivered. Redelivery:
 * a done row re-publishes the recorded profile.ready; a lost row its failure.
 */
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { Durables, Subjects, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import type { Logger } from "@vexxy/platform";
import { AnalysisFailedSchema, ExecutionProfileSchema, ProfileReadySchema, type JobRef, type SandboxCompleted } from "@vexxy/proto";
import { TRACE_STAGE, type TraceRegistry } from "../trace-registry.js";
import { toTraceeEvents } from "../tracee/tracee-event.js";
import { buildProfile } from "../ingest/build-profile.js";

export interface ProfilerStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly registry: TraceRegistry;
  readonly tracerName: string;
  readonly logger: Logger;
}

/** Starts the durable consumer. */
export async function consumeSandboxEvents(deps: ProfilerStageDeps, ackWaitMs: number): Promise<Subscription> {
  return await deps.bus.consume(
    { durable: Durables.profiler, subjects: [Subjects.sandboxCompleted, Subjects.sandboxFailed, Subjects.analysisCancelled], ackWaitMs },
    (event) => handleSandboxEvent(deps, event),
  );
}

/** Publishes the trace_lost failure of an attempt. */
export async function publishTraceLost(deps: Pick<ProfilerStageDeps, "bus">, job: JobRef, message: string): Promise<void> {
  await deps.bus.publish(
    Subjects.analysisFailed,
    create(AnalysisFailedSchema, { job, stage: "profiler", reason: "trace_lost", message, retryable: true }),
    `${eventMsgId(Subjects.analysisFailed, job.jobId, job.attempt)}:profiler`,
  );
}

/** Handles one delivery (exported for tests). */
export async function handleSandboxEvent(deps: ProfilerStageDeps, event: InboundEvent): Promise<void> {
  const job = (event.payload as { job?: JobRef }).job;
  if (job === undefined || job.jobId === "") return;
  if (event.subject !== Subjects.sandboxCompleted) {
    const session = deps.registry.take(job.jobId, job.attempt);
    if (session !== undefined) await session.discard();
    const row = await deps.ledger.get(job.jobId, TRACE_STAGE, job.attempt);
    if (row?.state === "started") await deps.ledger.update(job.jobId, TRACE_STAGE, job.attempt, "cancelled", { reason: event.subject });
    return;
  }
  const completed = event.payload as SandboxCompleted;
  const { record } = await deps.ledger.claim(job.jobId, TRACE_STAGE, job.attempt);
  if (record.state === "done" && typeof record.outcome["ready"] === "string") {
    await deps.bus.publish(
      Subjects.profileReady,
      fromJsonString(ProfileReadySchema, record.outcome["ready"]),
      eventMsgId(Subjects.profileReady, job.jobId, job.attempt),
    );
    return;
  }
  const session = deps.registry.take(job.jobId, job.attempt);
  if (session === undefined || record.state !== "started") {
    const message = `no live trace for attempt ${job.attempt} in this profiler (it restarted during the run or the trace was ${record.state}); the run is not evidence`;
    if (record.state === "started") await deps.ledger.update(job.jobId, TRACE_STAGE, job.attempt, "interrupted", { reason: "trace_lost" });
    await publishTraceLost(deps, job, message);
    deps.logger.warn("trace lost", { job: job.jobId, attempt: job.attempt });
    return;
  }
  const result = await session.stop();
  const events = toTraceeEvents(result, session.scope);
  const profile = buildProfile(events, {
    jobId: job.jobId,
    attempt: job.attempt,
    tracer: result.tracer,
    containerId: session.scope.containerId,
    lossReasons: result.lossReasons,
    outcome: completed.outcome,
    durationSeconds: completed.durationSeconds,
    identity: result.identity,
    untracedChannelAttempts: result.channelAttempts,
    diagnostics: result.diagnostics,
  });
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
  await deps.ledger.update(job.jobId, TRACE_STAGE, job.attempt, "done", { profileKey: profileBlob.key, ready: toJsonString(ProfileReadySchema, ready) });
  await deps.bus.publish(Subjects.profileReady, ready, eventMsgId(Subjects.profileReady, job.jobId, job.attempt));
  deps.logger.info("profile ready", { job: job.jobId, attempt: job.attempt, events: events.length, complete: profile.complete, loss: profile.lossReasons });
}
