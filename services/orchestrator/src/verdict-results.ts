/**
 * Reads a job's reachability results from the verdicts blob the job row points at
 * (ReachabilityScored as protobuf JSON, written by the reachability stage), with its sha256
 * checked. Events and the row carry only the key and digest: a scan of thousands of findings
 * does not fit in one NATS message. The last few decoded blobs are kept (by digest), so paging
 * through a large result does not decode the blob once per page.
 */
import { fromJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BlobStore } from "@vexxy/blobstore";
import { ReachabilityScoredSchema, type ReachabilityResult, type Verdict } from "@vexxy/proto";
import type { StoredVerdictsRef } from "./store/entities.js";
import { toApiResults, toStoredResults } from "./verdict-mapping.js";

export class VerdictResults {
  private readonly cache = new Map<string, Promise<ReachabilityResult[]>>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly cacheEntries = 2,
  ) {}

  /**
   * Every result of the job, in the verdicts' order.
   * @throws ConnectError DataLoss when the blob is gone, does not match its sha256 or its count, or does not decode.
   */
  async read(jobId: string, ref: StoredVerdictsRef): Promise<ReachabilityResult[]> {
    const id = `${ref.sha256}:${ref.key}`;
    let entry = this.cache.get(id);
    if (entry === undefined) {
      entry = this.load(jobId, ref);
      this.cache.set(id, entry);
      entry.catch(() => this.cache.delete(id));
      while (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value as string);
    } else {
      // Most recently used last.
      this.cache.delete(id);
      this.cache.set(id, entry);
    }
    return await entry;
  }

  private async load(jobId: string, ref: StoredVerdictsRef): Promise<ReachabilityResult[]> {
    let bytes: Buffer;
    try {
      bytes = await this.blobs.getVerified({ key: ref.key, sha256: ref.sha256 });
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      if (name === "BlobNotFoundError") throw new ConnectError(`job_id ${jobId}: the verdicts ${ref.key} are no longer in object storage`, Code.DataLoss);
      if (name === "BlobDigestMismatchError") {
        throw new ConnectError(`job_id ${jobId}: the verdicts ${ref.key} do not match their recorded sha256 ${ref.sha256}`, Code.DataLoss);
      }
      throw error;
    }
    let verdicts: Verdict[];
    try {
      verdicts = fromJsonString(ReachabilityScoredSchema, bytes.toString("utf8"), { ignoreUnknownFields: true }).verdicts;
    } catch (error) {
      throw new ConnectError(`job_id ${jobId}: the verdicts ${ref.key} do not decode: ${(error as Error).message}`, Code.DataLoss);
    }
    if (verdicts.length !== ref.count) {
      throw new ConnectError(`job_id ${jobId}: the verdicts ${ref.key} hold ${verdicts.length} verdicts, ${ref.count} were recorded`, Code.DataLoss);
    }
    return toApiResults(toStoredResults(verdicts) as unknown as Record<string, unknown>[]);
  }
}
