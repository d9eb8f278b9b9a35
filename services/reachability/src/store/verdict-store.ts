/**
 * Where verdicts live: the ReachabilityScored message (protobuf JSON) at
 * jobs/<job>/attempts/<n>/verdicts.json in object storage, and the stage ledger's row
 * (job, "reachability", attempt) pointing at it. GetVerdicts and redelivered events read
 * them back; nothing else is kept.
 */
import { fromJsonString, toJsonString, create } from "@bufbuild/protobuf";
import type { BlobStore } from "@vexxy/blobstore";
import { Subjects } from "@vexxy/events";
import type { StageLedger, StageRecord } from "@vexxy/ledger";
import { viewOf, type StageRecordFormat } from "@vexxy/stage";
import { BlobRefSchema, ReachabilityScoredSchema, type BlobRef, type ReachabilityScored } from "@vexxy/proto";
import { VerdictsNotFoundError } from "../errors.js";

/** The stage name in the ledger. */
export const REACHABILITY_STAGE = "reachability";

/** The object key of an attempt's verdicts. */
export function verdictsKey(jobId: string, attempt: number): string {
  return `jobs/${jobId}/attempts/${attempt}/verdicts.json`;
}

/** A done row records the reachability.scored event, which points at the verdicts blob. */
export const REACHABILITY_RECORD_FORMAT: StageRecordFormat<typeof Subjects.reachabilityScored, never> = { done: Subjects.reachabilityScored };

/** A ledger row's pointer to the verdicts blob (from its recorded event), or undefined. */
export function verdictsRefOf(record: StageRecord): BlobRef | undefined {
  const ref = viewOf(REACHABILITY_RECORD_FORMAT, record).event?.verdictsBlob;
  return ref !== undefined && ref.key !== "" && ref.sha256 !== "" ? ref : undefined;
}

/** Reads and writes an attempt's scored result. */
export class VerdictStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly ledger: StageLedger,
  ) {}

  /** Stores the scored message (without its own blob ref) and returns the ref to it. */
  async save(jobId: string, attempt: number, scored: ReachabilityScored): Promise<BlobRef> {
    const body = toJsonString(ReachabilityScoredSchema, { ...scored, verdictsBlob: undefined }, { prettySpaces: 1 });
    const info = await this.blobs.put(verdictsKey(jobId, attempt), Buffer.from(body, "utf8"), { contentType: "application/json" });
    return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
  }

  /**
   * Reads a stored scored message back, with verdicts_blob set to ref.
   * @throws BlobNotFoundError / BlobDigestMismatchError from the store.
   */
  async load(ref: BlobRef): Promise<ReachabilityScored> {
    const bytes = await this.blobs.getVerified(ref);
    const scored = fromJsonString(ReachabilityScoredSchema, bytes.toString("utf8"), { ignoreUnknownFields: true });
    scored.verdictsBlob = ref;
    return scored;
  }

  /**
   * The latest attempt of a job whose reachability stage is done, with its scored message.
   * @throws VerdictsNotFoundError when no attempt is done (`pending` says whether one is running).
   */
  async latest(jobId: string): Promise<{ attempt: number; scored: ReachabilityScored }> {
    const rows = (await this.ledger.listByJob(jobId)).filter((row) => row.stage === REACHABILITY_STAGE);
    const done = rows.filter((row) => row.state === "done").sort((a, b) => b.attempt - a.attempt);
    for (const row of done) {
      const ref = verdictsRefOf(row);
      if (ref !== undefined) return { attempt: row.attempt, scored: await this.load(ref) };
    }
    throw new VerdictsNotFoundError(
      jobId,
      rows.map((row) => row.state),
    );
  }
}
