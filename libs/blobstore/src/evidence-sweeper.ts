/**
 * Evidence retention for the filesystem store: every interval, objects under `jobs/` (scans,
 * SBOMs, traces, profiles, verdicts, VEX documents) last written more than the retention period
 * ago are deleted. The S3 store needs no sweeper: its bucket carries a lifecycle rule.
 */
import { FilesystemBlobStore } from "./filesystem-blob-store.js";
import type { BlobStore } from "./blob-store.js";
import type { BlobStoreLogger } from "./logger.js";

/** Where job evidence lives; nothing outside it is swept. */
export const EVIDENCE_PREFIX = "jobs/";
const DAY_MS = 86_400_000;

/** One sweep: deletes evidence older than retentionDays (relative to now); returns the deleted keys. No-op for a non-filesystem store. */
export async function sweepExpiredEvidence(store: BlobStore, retentionDays: number, now: Date = new Date()): Promise<string[]> {
  if (!(store instanceof FilesystemBlobStore)) return [];
  return await store.deleteOlderThan(EVIDENCE_PREFIX, new Date(now.getTime() - retentionDays * DAY_MS));
}

/** Sweeps now and then every intervalMs until stopped; failures are logged and retried next time. */
export function startEvidenceSweeper(store: BlobStore, retentionDays: number, intervalMs: number, logger: BlobStoreLogger): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    if (stopped) return;
    running = sweepExpiredEvidence(store, retentionDays)
      .then(() => undefined)
      .catch((error: unknown) => logger.warn("evidence sweep failed", { error: String(error) }))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
