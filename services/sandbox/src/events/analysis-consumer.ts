/**
 * Consumes vexxy.analysis.requested and vexxy.analysis.cancelled (durable "sandbox", several
 * handlers at once so a cancel is handled while a run is going).
 *
 * analysis.requested: claims (job, "sandbox", attempt) and runs the attempt (SandboxStage):
 * publishes vexxy.sandbox.started once the tracer is attached and the workload starts, then
 * vexxy.sandbox.completed, or vexxy.sandbox.failed {reason, retryable} when it cannot run.
 * analysis.cancelled: kills and removes the job's live container and marks the attempt cancelled.
 *
 * Failure: only recording or publishing the outcome can throw; the event is then redelivered
 * with backoff. Redelivery: a claimed row is never run again. A done row re-publishes its
 * sandbox.completed, a failed or interrupted row its sandbox.failed (same Nats-Msg-Id, so the
 * stream drops the duplicate), a started or cancelled row is acknowledged and dropped: no second
 * sandbox is ever created for one attempt.
 */
import { Durables, Subjects, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import type { AnalysisCancelled, AnalysisRequested } from "@vexxy/proto";
import type { SandboxStage } from "../sandbox-stage.js";

/** Handlers running at once: a long run must not keep a cancel waiting. */
export const SANDBOX_CONSUMER_CONCURRENCY = 4;

/** Starts the durable consumer. */
export async function consumeAnalysisEvents(bus: EventBus, stage: SandboxStage, options: { ackWaitMs?: number } = {}): Promise<Subscription> {
  return await bus.consume(
    {
      durable: Durables.sandbox,
      subjects: [Subjects.analysisRequested, Subjects.analysisCancelled],
      concurrency: SANDBOX_CONSUMER_CONCURRENCY,
      ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
    },
    (event) => handleAnalysisEvent(stage, event),
  );
}

/** Handles one delivery (exported for tests). @throws when the outcome could not be recorded or published. */
export async function handleAnalysisEvent(stage: SandboxStage, event: InboundEvent): Promise<void> {
  if (event.subject === Subjects.analysisRequested) {
    await stage.onRequested(event.payload as AnalysisRequested);
  } else if (event.subject === Subjects.analysisCancelled) {
    const cancelled = event.payload as AnalysisCancelled;
    if (cancelled.job === undefined || cancelled.job.jobId === "") return;
    await stage.onCancelled(cancelled.job, cancelled.reason || "cancelled");
  }
}
