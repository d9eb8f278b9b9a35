/**
 * Instance ids: each process of a replicated service draws one at start (and logs it), so work
 * bound to that process (a live trace, a live container) can be routed back to it.
 */
import { randomBytes } from "node:crypto";
import type { EventBus } from "./event-bus.js";

/** A fresh id `<service>-<12 hex>`, unique per process start (a restarted process gets a new one). */
export function newInstanceId(service: string): string {
  return `${service}-${randomBytes(6).toString("hex")}`;
}

/**
 * Whether the process named by owner (an instance id a ledger row recorded) is gone, so a
 * start-up recovery may take its work over: true when nobody answers presence probes for it,
 * when no owner was recorded (a row written before replicas) or when the bus has no presence
 * (a test double: one process, as before replicas). False while the owner answers, and when
 * that cannot be told (no answer in time): its work is left alone and, if it really died, the
 * orchestrator's reconciler re-drives the job.
 */
export async function ownerGone(bus: EventBus, owner: unknown): Promise<boolean> {
  if (typeof owner !== "string" || owner === "" || bus.instanceAlive === undefined) return true;
  try {
    return !(await bus.instanceAlive(owner));
  } catch {
    return false;
  }
}
