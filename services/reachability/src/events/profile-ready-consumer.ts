/**
 * Consumes vexxy.profile.ready (durable "reachability") and vexxy.analysis.cancelled.
 *
 * profile.ready: claims (job, "reachability", attempt) in the ledger, fetches the scan (the
 * JobRef's BlobRef), the execution profile and the image catalogue with their sha256 checked,
 * scores every (vulnerability, package), stores the verdicts at
 * jobs/<job>/attempts/<n>/verdicts.json, marks the row done and publishes
 * vexxy.reachability.scored (that blob's key and sha256, the verdict count and the profile
 * summary; never the verdicts themselves, which past a few thousand would not fit in one NATS
 * message). A report that cannot be read
 * publishes vexxy.analysis.failed {stage "reachability", reason "invalid_vulnerability_report",
 * retryable false} with the message naming the field; a missing or altered input blob or an
 * undecodable artifact publishes analysis.failed too (retryable for blobs: a new attempt
 * writes new ones).
 *
 * Failure: anything else (store or database unreachable) throws, so the event is redelivered
 * with backoff. Redelivery: a row already done re-publishes the recorded result, a failed row
 * its failure (same Nats-Msg-Id, de-duplicated by the stream); a "started" row means an
 * earlier delivery died mid-way, so the work (deterministic, overwriting) is done again.
 * analysis.cancelled: marks the attempt's row cancelled when not yet scored, so a later
 * profile.ready of that attempt is acknowledged and dropped.
 */
import { create } from "@bufbuild/protobuf";
import { Durables, Subjects, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger, StageRecord } from "@vexxy/ledger";
import {
  AnalysisFailedSchema,
  ReachabilityScoredSchema,
  type AnalysisCancelled,
  type AnalysisFailed,
  type BlobRef,
  type JobRef,
  type ProfileReady,
  type ReachabilityScored,
} from "@vexxy/proto";
import { decodeCatalogue, decodeProfile, tightenProfile } from "../artifacts.js";
import { ArtifactDecodeError, ScanFormatError } from "../errors.js";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { REACHABILITY_STAGE, type VerdictStore, verdictsRefOf } from "../store/verdict-store.js";
import { scoreReachability } from "../verdict/decide-verdicts.js";

/** The few logging calls the consumer makes (the platform logger fits). */
export interface StageLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What the handler needs. */
export interface ReachabilityStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly verdicts: VerdictStore;
  readonly logger: StageLogger;
}

/** A failure the stage reports instead of retrying. */
class StageFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StageFailure";
  }
}

/** Starts the durable consumer. */
export async function consumeReachabilityEvents(deps: ReachabilityStageDeps, options: { ackWaitMs?: number } = {}): Promise<Subscription> {
  return await deps.bus.consume(
    {
      durable: Durables.reachability,
      subjects: [Subjects.profileReady, Subjects.analysisCancelled],
      ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
    },
    async (event) => {
      await handleReachabilityEvent(deps, event);
    },
  );
}

/**
 * Handles one delivered event (exported for tests).
 * @throws when the work must be redelivered (infrastructure unreachable).
 */
export async function handleReachabilityEvent(deps: ReachabilityStageDeps, event: InboundEvent): Promise<void> {
  if (event.subject === Subjects.profileReady) {
    await onProfileReady(deps, event.payload as ProfileReady);
  } else if (event.subject === Subjects.analysisCancelled) {
    await onCancelled(deps, event.payload as AnalysisCancelled);
  }
}

async function onProfileReady(deps: ReachabilityStageDeps, ready: ProfileReady): Promise<void> {
  const job = ready.job;
  if (job === undefined || job.jobId === "" || job.attempt === 0) {
    deps.logger.warn("profile.ready without job id or attempt dropped", { job: job?.jobId ?? "" });
    return;
  }
  const { claimed, record } = await deps.ledger.claim(job.jobId, REACHABILITY_STAGE, job.attempt);
  if (!claimed && (await replay(deps, job, record))) return;

  try {
    const scored = await score(deps, job, ready);
    const ref = await deps.verdicts.save(job.jobId, job.attempt, scored);
    await deps.ledger.update(job.jobId, REACHABILITY_STAGE, job.attempt, "done", {
      verdicts: { key: ref.key, sha256: ref.sha256, size: Number(ref.size) },
      verdictCount: scored.verdicts.length,
    });
    await deps.bus.publish(Subjects.reachabilityScored, scoredEvent(scored, ref), eventMsgId(Subjects.reachabilityScored, job.jobId, job.attempt));
    deps.logger.info("reachability scored", { job: job.jobId, attempt: job.attempt, verdicts: scored.verdicts.length });
  } catch (error) {
    const failure = asStageFailure(error);
    if (failure === undefined) throw error;
    await deps.ledger.update(job.jobId, REACHABILITY_STAGE, job.attempt, "failed", {
      reason: failure.reason,
      message: failure.message,
      retryable: failure.retryable,
    });
    await publishFailure(deps, job, failure.reason, failure.message, failure.retryable);
    deps.logger.warn("reachability failed", { job: job.jobId, attempt: job.attempt, reason: failure.reason, message: failure.message });
  }
}

/** Re-publishes what an earlier delivery recorded; false when the work must be (re)done. */
async function replay(deps: ReachabilityStageDeps, job: JobRef, record: StageRecord): Promise<boolean> {
  switch (record.state) {
    case "done": {
      const ref = verdictsRefOf(record);
      if (ref === undefined) return false;
      const scored = await deps.verdicts.load(ref);
      await deps.bus.publish(Subjects.reachabilityScored, scoredEvent(scored, ref), eventMsgId(Subjects.reachabilityScored, job.jobId, job.attempt));
      return true;
    }
    case "failed": {
      const { reason, message, retryable } = record.outcome;
      await publishFailure(deps, job, String(reason ?? "reachability_failed"), String(message ?? ""), retryable === true);
      return true;
    }
    case "cancelled":
      deps.logger.info("profile.ready of a cancelled attempt dropped", { job: job.jobId, attempt: job.attempt });
      return true;
    default:
      return false;
  }
}

async function score(deps: ReachabilityStageDeps, job: JobRef, ready: ProfileReady) {
  const scanRef = required(job.scan, "job.scan");
  const profileRef = required(ready.profile, "profile");
  const catalogueRef = required(ready.catalogue, "catalogue");
  const [scanBytes, profileBytes, catalogueBytes] = await Promise.all([
    fetch(deps, scanRef, "vulnerability report"),
    fetch(deps, profileRef, "execution profile"),
    fetch(deps, catalogueRef, "image catalogue"),
  ]);
  const report = parseVulnerabilityReport(scanBytes);
  const profile = tightenProfile(decodeProfile(profileBytes), ready);
  const catalogue = decodeCatalogue(catalogueBytes);
  const result = scoreReachability({ catalogue, profile, report, profileRef });
  return create(ReachabilityScoredSchema, { job, verdicts: result.verdicts, profile: result.summary });
}

/** The event for a stored result: the blob's ref and the verdict count in place of the verdicts. */
export function scoredEvent(scored: ReachabilityScored, ref: BlobRef): ReachabilityScored {
  return create(ReachabilityScoredSchema, {
    ...(scored.job !== undefined ? { job: scored.job } : {}),
    ...(scored.profile !== undefined ? { profile: scored.profile } : {}),
    verdictsBlob: ref,
    verdictCount: scored.verdicts.length,
  });
}

function required(ref: BlobRef | undefined, field: string): BlobRef {
  if (ref === undefined || ref.key === "" || ref.sha256 === "") {
    throw new StageFailure("missing_input", `${field}: the event names no stored blob (key and sha256)`, false);
  }
  return ref;
}

async function fetch(deps: ReachabilityStageDeps, ref: BlobRef, what: string): Promise<Buffer> {
  try {
    return await deps.blobs.getVerified(ref);
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "BlobNotFoundError") throw new StageFailure("input_missing", `the ${what} ${ref.key} is not in object storage`, true, { cause: error });
    if (name === "BlobDigestMismatchError")
      throw new StageFailure("input_altered", `the ${what} ${ref.key} does not match its sha256 ${ref.sha256}`, true, { cause: error });
    throw error;
  }
}

function asStageFailure(error: unknown): StageFailure | undefined {
  if (error instanceof StageFailure) return error;
  if (error instanceof ScanFormatError) return new StageFailure("invalid_vulnerability_report", error.message, false, { cause: error });
  if (error instanceof ArtifactDecodeError) return new StageFailure(`invalid_${error.artifact}`, error.message, false, { cause: error });
  return undefined;
}

async function publishFailure(deps: ReachabilityStageDeps, job: JobRef, reason: string, message: string, retryable: boolean): Promise<void> {
  const failed: AnalysisFailed = create(AnalysisFailedSchema, { job, stage: REACHABILITY_STAGE, reason, message, retryable });
  await deps.bus.publish(Subjects.analysisFailed, failed, `${eventMsgId(Subjects.analysisFailed, job.jobId, job.attempt)}:${REACHABILITY_STAGE}`);
}

async function onCancelled(deps: ReachabilityStageDeps, cancelled: AnalysisCancelled): Promise<void> {
  const job = cancelled.job;
  if (job === undefined || job.jobId === "" || job.attempt === 0) return;
  const { claimed, record } = await deps.ledger.claim(job.jobId, REACHABILITY_STAGE, job.attempt);
  if (claimed || record.state === "started") {
    await deps.ledger.update(job.jobId, REACHABILITY_STAGE, job.attempt, "cancelled", { reason: cancelled.reason });
  }
}
