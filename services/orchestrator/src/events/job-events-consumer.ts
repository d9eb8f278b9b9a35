/**
 * Consumes every event that moves a job: sandbox.started/completed/failed, profile.ready,
 * reachability.scored, vex.signed and analysis.failed (durable consumer "orchestrator").
 * Publishes nothing itself except through the lifecycle (a re-driven attempt's request).
 * On failure (Postgres unreachable) the handler throws and the event is redelivered with
 * backoff. On redelivery the lifecycle sees the job already advanced (progress never goes
 * back, stale attempts and final jobs are ignored), so applying an event twice changes nothing.
 */
import { Durables, type EventBus, type Subscription } from "@vexxy/events";
import { ORCHESTRATOR_SUBJECTS, type JobLifecycle } from "../job-lifecycle.js";

/** Starts the orchestrator's durable consumer. */
export async function consumeJobEvents(bus: EventBus, lifecycle: JobLifecycle, options: { ackWaitMs: number }): Promise<Subscription> {
  return await bus.consume({ durable: Durables.orchestrator, subjects: ORCHESTRATOR_SUBJECTS, ackWaitMs: options.ackWaitMs }, async (event) => {
    await lifecycle.apply(event);
  });
}
