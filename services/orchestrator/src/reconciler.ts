/**
 * The reconciler: JetStream can lose acknowledged messages on a crash, so the orchestrator
 * never trusts that the next event will come. Every interval it looks for jobs past their
 * phase deadline and re-publishes, re-drives or fails them (JobLifecycle.reconcile), so no job
 * stays RUNNING forever.
 */
import type { Logger } from "@vexxy/platform";
import type { JobLifecycle } from "./job-lifecycle.js";

export interface Reconciler {
  stop(): Promise<void>;
}

/** Runs lifecycle.reconcile() every intervalMs until stopped; a pass never overlaps another. */
export function startReconciler(lifecycle: JobLifecycle, intervalMs: number, logger: Logger): Reconciler {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    running = lifecycle
      .reconcile()
      .then((n) => {
        if (n > 0) logger.info("reconciler handled overdue jobs", { count: n });
      })
      .catch((err: unknown) => logger.error("reconciler pass failed", { error: String(err) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  let timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
