/** Turns a job row into the public Analysis message. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AnalysisSchema, AnalysisStatus, type Analysis } from "@vexxy/proto";
import type { JobStatus } from "./store/entities.js";
import type { JobView } from "./store/job-store.js";

const STATUS: Readonly<Record<JobStatus, AnalysisStatus>> = {
  QUEUED: AnalysisStatus.QUEUED,
  RUNNING: AnalysisStatus.RUNNING,
  ANALYZING: AnalysisStatus.ANALYZING,
  COMPLETE: AnalysisStatus.COMPLETE,
  FAILED: AnalysisStatus.FAILED,
  CANCELLED: AnalysisStatus.CANCELLED,
};

/** The API status of a stored status. */
export function apiStatus(status: string): AnalysisStatus {
  return STATUS[status as JobStatus] ?? AnalysisStatus.UNSPECIFIED;
}

/** The stored status of an API status, or undefined for UNSPECIFIED. */
export function storedStatus(status: AnalysisStatus): JobStatus | undefined {
  for (const [name, value] of Object.entries(STATUS)) if (value === status) return name as JobStatus;
  return undefined;
}

/** The public view of a job (a whole row, or the columns JobStore.findView reads). */
export function toAnalysis(job: JobView): Analysis {
  return create(AnalysisSchema, {
    jobId: job.id,
    status: apiStatus(job.status),
    progressPercent: job.progressPercent,
    currentPhase: job.currentPhase,
    imageRef: job.imageRef,
    imageDigest: job.imageDigest,
    createdAt: timestampFromDate(job.createdAt),
    ...(job.startedAt != null ? { startedAt: timestampFromDate(job.startedAt) } : {}),
    ...(job.completedAt != null ? { completedAt: timestampFromDate(job.completedAt) } : {}),
    errorMessage: job.errorMessage ?? "",
    attempt: job.attempt,
    retryCount: job.retryCount,
    organizationId: job.organizationId,
  });
}
