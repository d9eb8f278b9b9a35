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
 * The claim, replay, record and publish are the shared stage lifecycle (@vexxy/stage).
 * Failure: anything else (store or database unreachable) throws, so the event is redelivered
 * with backoff. Redelivery: a row already done re-publishes the recorded result, a failed row
 * its failure (same Nats-Msg-Id, de-duplicated by the stream); a "started" row means an
 * earlier delivery died mid-way, so the work (deterministic, overwriting) is done again.
 * analysis.cancelled: marks the attempt's row cancelled when not yet scored, so a later
 * profile.ready of that attempt is acknowledged and dropped.
 */
import { create } from "@bufbuild/protobuf";
import { Durables, Subjects, type EventBus, type InboundEventOf, type Subscription } from "@vexxy/events";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import { StageFailure, StageLifecycle, type StageLogger } from "@vexxy/stage";
import { ReachabilityScoredSchema, type BlobRef, type JobRef, type ProfileReady, type ReachabilityScored } from "@vexxy/proto";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { decodeCatalogue, decodeProfile, tightenProfile } from "../artifacts.js";
import { ArtifactDecodeError, ScanFormatError } from "../errors.js";
import { REACHABILITY_RECORD_FORMAT, REACHABILITY_STAGE, type VerdictStore } from "../store/verdict-store.js";
import { scoreReachability } from "../verdict/decide-verdicts.js";

/** What the handler needs. */
export interface ReachabilityStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly verdicts: VerdictStore;
  readonly logger: StageLogger & { error(message: string, fields?: Record<string, unknown>): void };
}

const REACHABILITY_SUBJECTS = [Subjects.profileReady, Subjects.analysisCancelled] as const;

/** The stage's lifecycle: scoring is deterministic and overwrites, so a started row is worked again. */
export function reachabilityLifecycle(deps: Pick<ReachabilityStageDeps, "bus" | "ledger" | "logger">): StageLifecycle<typeof Subjects.reachabilityScored> {
  return new StageLifecycle({ ...REACHABILITY_RECORD_FORMAT, stage: REACHABILITY_STAGE, onStarted: "redo", classify: asStageFailure }, deps);
}

/** Starts the durable consumer. */
export async function consumeReachabilityEvents(deps: ReachabilityStageDeps, options: { ackWaitMs?: number } = {}): Promise<Subscription> {
  const lifecycle = reachabilityLifecycle(deps);
  return await deps.bus.consume(
    {
      durable: Durables.reachability,
      subjects: REACHABILITY_SUBJECTS,
      ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
    },
    (event) => handleReachabilityEvent(deps, event, lifecycle),
  );
}

/**
 * Handles one delivered event (exported for tests).
 * @throws when the work must be redelivered (infrastructure unreachable).
 */
export async function handleReachabilityEvent(
  deps: ReachabilityStageDeps,
  event: InboundEventOf<(typeof REACHABILITY_SUBJECTS)[number]>,
  lifecycle = reachabilityLifecycle(deps),
): Promise<void> {
  if (event.subject === Subjects.profileReady) {
    const ready = event.payload;
    await lifecycle.run(ready.job, async ({ job }) => {
      const scored = await score(deps, job, ready);
      const ref = await deps.verdicts.save(job.jobId, job.attempt, scored);
      deps.logger.info("reachability scored", { job: job.jobId, attempt: job.attempt, verdicts: scored.verdicts.length });
      return scoredEvent(scored, ref);
    });
  } else {
    await lifecycle.cancel(event.payload.job, event.payload.reason);
  }
}

async function score(deps: ReachabilityStageDeps, job: JobRef, ready: ProfileReady): Promise<ReachabilityScored> {
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

/** The failure of an unreadable report or artifact (final for the attempt), or undefined. */
function asStageFailure(error: unknown): StageFailure | undefined {
  if (error instanceof ScanFormatError) return new StageFailure("invalid_vulnerability_report", error.message, false, { cause: error });
  if (error instanceof ArtifactDecodeError) return new StageFailure(`invalid_${error.artifact}`, error.message, false, { cause: error });
  return undefined;
}
