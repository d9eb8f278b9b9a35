/**
 * The JSON a completion webhook carries, in the Standard Webhooks envelope
 * `{type, timestamp, data}`: job id, status, image ref and digest, how many verdicts of each
 * VEX status, the error (FAILED/CANCELLED) and when the job ended. Verdicts are counted from
 * the verdicts blob (sha256 checked) or the inline rows of older jobs.
 */
import type { IAnalysisJob } from "../store/entities.js";
import { toApiResults } from "../verdict-mapping.js";
import type { VerdictResults } from "../verdict-results.js";

/** The four OpenVEX statuses, always present in `verdict_counts` (0 when none). */
export const VERDICT_STATUSES = ["not_affected", "affected", "fixed", "under_investigation"] as const;

/** The webhook body as sent. */
export interface WebhookBody {
  readonly type: "analysis.completed" | "analysis.failed" | "analysis.cancelled";
  readonly timestamp: string;
  readonly data: {
    readonly job_id: string;
    readonly organization_id: string;
    readonly status: string;
    readonly image_ref: string;
    readonly image_digest: string;
    readonly verdict_counts: Readonly<Record<string, number>>;
    readonly error: string | null;
    readonly completed_at: string | null;
  };
}

const TYPE_BY_STATUS: Readonly<Record<string, WebhookBody["type"]>> = {
  COMPLETE: "analysis.completed",
  FAILED: "analysis.failed",
  CANCELLED: "analysis.cancelled",
};

/** Counts the job's verdicts per status. @throws ConnectError DataLoss when the verdicts blob is gone or altered. */
export async function countVerdicts(job: IAnalysisJob, verdicts: VerdictResults): Promise<Record<string, number>> {
  const counts: Record<string, number> = Object.fromEntries(VERDICT_STATUSES.map((s) => [s, 0]));
  if (job.status !== "COMPLETE") return counts;
  const results = job.reachabilityVerdicts != null ? await verdicts.read(job.id, job.reachabilityVerdicts) : toApiResults(job.reachabilityResults ?? []);
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

/** The body for a final job. @throws Error when the job is not final. */
export function webhookBody(job: IAnalysisJob, counts: Readonly<Record<string, number>>): WebhookBody {
  const type = TYPE_BY_STATUS[job.status];
  if (type === undefined) throw new Error(`job ${job.id} is ${job.status}, not final: no webhook`);
  return {
    type,
    timestamp: (job.completedAt ?? job.updatedAt).toISOString(),
    data: {
      job_id: job.id,
      organization_id: job.organizationId,
      status: job.status,
      image_ref: job.imageRef,
      image_digest: job.imageDigest,
      verdict_counts: counts,
      error: job.errorMessage ?? null,
      completed_at: job.completedAt?.toISOString() ?? null,
    },
  };
}
