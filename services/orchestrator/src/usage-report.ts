/** GetUsage: the caller organization's quota and billed analyses of one month, for billing. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GetUsageResponseSchema, type GetUsageRequest, type GetUsageResponse } from "@vexxy/proto";
import { InvalidFieldError } from "@vexxy/platform";
import type { Caller } from "@vexxy/auth";
import type { JobStore } from "./store/job-store.js";
import type { QuotaPolicy } from "./quota-policy.js";
import { apiStatus } from "./job-view.js";

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/**
 * Reads the usage of the month the request names (the current one when empty).
 * @throws InvalidFieldError naming period when it is not "YYYY-MM".
 */
export async function usageReport(
  store: JobStore,
  quota: QuotaPolicy,
  caller: Caller,
  req: GetUsageRequest,
  now: Date = new Date(),
): Promise<GetUsageResponse> {
  let at = now;
  if (req.period !== "") {
    const m = PERIOD.exec(req.period);
    if (m === null) throw new InvalidFieldError("period", `period must be "YYYY-MM" (got "${req.period.slice(0, 20)}")`);
    at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  }
  const usage = await quota.usage(caller, at);
  const jobs = await store.billedJobs(caller.organizationId, usage.start, usage.end);
  return create(GetUsageResponseSchema, {
    organizationId: caller.organizationId,
    tier: caller.tier,
    period: usage.start.toISOString().slice(0, 7),
    periodStart: timestampFromDate(usage.start),
    periodEnd: timestampFromDate(usage.end),
    used: usage.used,
    limit: usage.limit,
    jobs: jobs.map((job) => ({
      jobId: job.id,
      ...(job.billedAt != null ? { billedAt: timestampFromDate(job.billedAt) } : {}),
      costCredits: job.costCredits,
      status: apiStatus(job.status),
      imageRef: job.imageRef,
      imageDigest: job.imageDigest,
    })),
  });
}
