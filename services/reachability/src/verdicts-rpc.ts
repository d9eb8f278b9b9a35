/** The ReachabilityService RPCs: GetVerdicts. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetVerdictsResponseSchema, type ReachabilityService } from "@vexxy/proto";
import { InvalidFieldError } from "@vexxy/platform";
import type { VerdictStore } from "./store/verdict-store.js";

/**
 * The handlers. GetVerdicts returns the latest scored attempt of a job.
 * Throws InvalidFieldError (job_id empty or malformed: InvalidArgument) and
 * VerdictsNotFoundError (NotFound when never scored, FailedPrecondition while running or failed).
 */
export function verdictHandlers(store: VerdictStore): ServiceImpl<typeof ReachabilityService> {
  return {
    async getVerdicts(request) {
      const jobId = request.jobId.trim();
      if (jobId === "") throw new InvalidFieldError("job_id", "is required");
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(jobId)) throw new InvalidFieldError("job_id", "must be a job id (letters, digits, . _ -)");
      const { attempt, scored } = await store.latest(jobId);
      return create(GetVerdictsResponseSchema, { attempt, verdicts: scored.verdicts });
    },
  };
}
