/**
 * SandboxService: GetSandbox (a job's attempts), ListSandboxes (attempts, newest first, and the
 * containers that exist on this node now) and TeardownSandbox (kills and removes a job's live
 * container). Errors are @vexxy/platform kinds; the server's interceptor maps them.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { InvalidFieldError } from "@vexxy/platform";
import { GetSandboxResponseSchema, JobRefSchema, ListSandboxesResponseSchema, TeardownSandboxResponseSchema, type SandboxService } from "@vexxy/proto";
import type { SandboxDriver } from "./driver/sandbox-driver.js";
import { SandboxJobNotFoundError } from "./errors.js";
import type { SandboxStage } from "./sandbox-stage.js";
import type { SandboxAttemptStore } from "./store/sandbox-attempts.js";

export interface SandboxRpcDeps {
  readonly attempts: SandboxAttemptStore;
  readonly driver: SandboxDriver;
  readonly stage: SandboxStage;
}

/** Builds the SandboxService implementation. */
export function sandboxHandlers(deps: SandboxRpcDeps): ServiceImpl<typeof SandboxService> {
  return {
    async getSandbox(req) {
      const jobId = requireJobId(req.jobId);
      const attempts = await deps.attempts.ofJob(jobId);
      if (attempts.length === 0) throw new SandboxJobNotFoundError(jobId);
      return create(GetSandboxResponseSchema, { attempts });
    },
    async listSandboxes(req) {
      const [attempts, liveContainers] = await Promise.all([deps.attempts.list(req.state), deps.driver.list()]);
      return create(ListSandboxesResponseSchema, { attempts, liveContainers });
    },
    async teardownSandbox(req) {
      const jobId = requireJobId(req.jobId);
      const tornDown = await deps.stage.onCancelled(create(JobRefSchema, { jobId, attempt: 0 }), "TeardownSandbox");
      return create(TeardownSandboxResponseSchema, { tornDown });
    },
  };
}

function requireJobId(jobId: string): string {
  if (jobId.trim() === "") throw new InvalidFieldError("job_id", "job_id is required");
  return jobId;
}
