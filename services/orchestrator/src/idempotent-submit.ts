/**
 * Idempotent submits: the first job stored under an (organization, idempotency key) is the
 * answer to every later submit with that key and the same request; a later submit with another
 * request under the key is AlreadyExists naming the fields that differ. Keys are scoped per
 * organization (the unique index is on both), so two organizations never see each other's.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SubmitAnalysisResponseSchema, type SubmitAnalysisResponse } from "@vexxy/proto";
import { ConflictError } from "@vexxy/platform";
import type { IAnalysisJob } from "./store/entities.js";
import type { JobStore } from "./store/job-store.js";
import { apiStatus } from "./job-view.js";
import { fingerprintDifferences } from "./request-fingerprint.js";

/**
 * The job already stored under the key, when its request matches; undefined when there is none.
 * @throws ConflictError (AlreadyExists) naming idempotency_key and the differing fields.
 */
export async function replaySubmit(
  store: JobStore,
  organizationId: string,
  key: string,
  fingerprint: Readonly<Record<string, string>>,
): Promise<IAnalysisJob | undefined> {
  const existing = await store.findByIdempotencyKey(organizationId, key);
  if (existing === undefined) return undefined;
  const differing = fingerprintDifferences(existing.requestFingerprint ?? null, fingerprint);
  if (differing.length > 0) {
    throw new ConflictError(
      `idempotency_key "${key.slice(0, 80)}" was already used for job ${existing.id} with a different request (differs in: ${differing.join(", ")}); use a new key for a new request`,
    );
  }
  return existing;
}

/** The SubmitAnalysis answer for a job stored earlier (an idempotent replay). */
export function replayedResponse(job: IAnalysisJob, estimatedDurationMinutes: number): SubmitAnalysisResponse {
  return create(SubmitAnalysisResponseSchema, {
    jobId: job.id,
    status: apiStatus(job.status),
    imageRef: job.imageRef,
    imageDigest: job.imageDigest,
    estimatedDurationMinutes,
    createdAt: timestampFromDate(job.createdAt),
  });
}
