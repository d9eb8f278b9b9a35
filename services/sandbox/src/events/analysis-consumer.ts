/**
 * Consumes vexxy.analysis.requested and vexxy.analysis.cancelled (durable "sandbox", several
 * handlers at once so a cancel is handled while a run is going).
 *
 * analysis.requested: claims (job, "sandbox", attempt) and runs the attempt (SandboxStage):
 * publishes vexxy.sandbox.started once the tracer is attached and the workload starts, then
 * vexxy.sandbox.completed, or vexxy.sandbox.failed {reason, retryable} when it cannot run.
 * analysis.cancelled: kills and removes the job's live container and marks the attempt cancelled.
 * It is consumed twice: on the shared durable (so a cancel of an attempt no replica has seen yet
 * is recorded, and a later analysis.requested of it dropped) and on this process's own fan-out
 * consumer ("sandbox-<instance>"), so that every replica sees every cancel and the one running
 * the container tears it down at once (the shared durable hands it to one replica only, most
 * often not the one running it). Both are idempotent.
 *
 * Failure: only recording or publishing the outcome can throw; the event is then redelivered
 * with backoff. Redelivery: a claimed row is never run again. A done row re-publishes its
 * sandbox.completed, a failed or interrupted row its sandbox.failed (same Nats-Msg-Id, so the
 * stream drops the duplicate), a started or cancelled row is acknowledged and dropped: no second
 * sandbox is ever created for one attempt.
 */
import { Durables, Subjects, type EventBus, type InboundEventOf, type Subscription } from "@vexxy/events";
import type { SandboxStage } from "../sandbox-stage.js";

/** Handlers running at once: a long run must not keep a cancel waiting. */
export const SANDBOX_CONSUMER_CONCURRENCY = 4;

/** Starts the shared durable consumer and, with options.instanceId, this process's fan-out consumer of cancels. */
export async function consumeAnalysisEvents(
  bus: EventBus,
  stage: SandboxStage,
  options: { ackWaitMs?: number; instanceId?: string } = {},
): Promise<Subscription> {
  const ackWait = options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {};
  const shared = await bus.consume(
    { durable: Durables.sandbox, subjects: [Subjects.analysisRequested, Subjects.analysisCancelled], concurrency: SANDBOX_CONSUMER_CONCURRENCY, ...ackWait },
    (event) => handleAnalysisEvent(stage, event),
  );
  if (options.instanceId === undefined) return shared;
  let own: Subscription;
  try {
    own = await bus.consume({ durable: Durables.sandbox, subjects: [Subjects.analysisCancelled], instance: options.instanceId, ...ackWait }, (event) =>
      handleAnalysisEvent(stage, event),
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

/** Handles one delivery (exported for tests). @throws when the outcome could not be recorded or published. */
export async function handleAnalysisEvent(
  stage: SandboxStage,
  event: InboundEventOf<typeof Subjects.analysisRequested | typeof Subjects.analysisCancelled>,
): Promise<void> {
  if (event.subject === Subjects.analysisRequested) {
    await stage.onRequested(event.payload);
  } else {
    const cancelled = event.payload;
    if (cancelled.job === undefined || cancelled.job.jobId === "") return;
    await stage.onCancelled(cancelled.job, cancelled.reason || "cancelled");
  }
}
