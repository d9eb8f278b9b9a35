/**
 * ProfilerService: StartTrace attaches the tracer to a sandbox's cgroup and answers only once
 * the probes are attached (the sandbox starts the workload only after this answer), naming this
 * process (profiler_instance_id) so that the sandbox routes "the run ended" to exactly the
 * replica holding the live trace; the ledger row records the owner right after the claim, so a
 * replica starting up does not take a live trace of another for an interrupted one. GetTrace
 * reports a trace's state, whichever replica holds it.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetTraceResponseSchema, StartTraceResponseSchema, type ProfilerService } from "@vexxy/proto";
import type { StageLedger } from "@vexxy/ledger";
import { FailedPreconditionError, InvalidFieldError, type Logger } from "@vexxy/platform";
import type { Tracer } from "./tracer/tracer.js";
import { TRACE_STAGE, type TraceRegistry } from "./trace-registry.js";

export interface TraceRpcDeps {
  readonly tracer: Tracer;
  readonly registry: TraceRegistry;
  readonly ledger: StageLedger;
  readonly attachTimeoutMs: number;
  readonly logger: Logger;
  /** This process's instance id. */
  readonly instanceId: string;
  /** Whether another replica that recorded owner still runs (presence probe); see ownerGone. */
  readonly ownerAlive: (owner: string) => Promise<boolean>;
}

/** Builds the ProfilerService implementation. */
export function traceHandlers(deps: TraceRpcDeps): ServiceImpl<typeof ProfilerService> {
  return {
    async startTrace(req) {
      if (req.jobId.trim() === "") throw new InvalidFieldError("job_id", "job_id is required");
      if (req.attempt < 1) throw new InvalidFieldError("attempt", "attempt must be 1 or more");
      if (!req.cgroupPath.startsWith("/sys/fs/cgroup/"))
        throw new InvalidFieldError("cgroup_path", `cgroup_path must be a cgroup v2 directory under /sys/fs/cgroup (got "${req.cgroupPath}")`);
      const live = deps.registry.get(req.jobId, req.attempt);
      if (live !== undefined && !live.died) {
        return create(StartTraceResponseSchema, {
          traceId: `${req.jobId}/${req.attempt}`,
          tracer: deps.tracer.name,
          cgroupId: live.cgroupId,
          attachSeconds: live.attachSeconds,
          profilerInstanceId: deps.instanceId,
        });
      }
      const { record } = await deps.ledger.claim(req.jobId, TRACE_STAGE, req.attempt);
      if (record.state !== "started") {
        throw new FailedPreconditionError(
          `job_id ${req.jobId} attempt ${req.attempt}: its trace already ended (${record.state}); a new attempt needs a new trace`,
        );
      }
      const owner = record.outcome["instanceId"];
      if (typeof owner === "string" && owner !== deps.instanceId) {
        // A retried StartTrace that the Service sent to another replica than the first time.
        throw new FailedPreconditionError(
          `job_id ${req.jobId} attempt ${req.attempt}: its trace is held by profiler ${owner}; a new attempt needs a new trace`,
        );
      }
      await deps.ledger.update(req.jobId, TRACE_STAGE, req.attempt, "started", { instanceId: deps.instanceId });
      const session = await deps.tracer.start(
        { jobId: req.jobId, attempt: req.attempt, containerId: req.containerId, cgroupPath: req.cgroupPath },
        deps.attachTimeoutMs,
      );
      deps.registry.set(session);
      await deps.ledger.update(req.jobId, TRACE_STAGE, req.attempt, "started", {
        containerId: req.containerId,
        cgroupPath: req.cgroupPath,
        attachSeconds: session.attachSeconds,
        instanceId: deps.instanceId,
      });
      deps.logger.info("trace attached", { job: req.jobId, attempt: req.attempt, cgroup: req.cgroupPath, attachSeconds: session.attachSeconds });
      return create(StartTraceResponseSchema, {
        traceId: `${req.jobId}/${req.attempt}`,
        tracer: deps.tracer.name,
        cgroupId: session.cgroupId,
        attachSeconds: session.attachSeconds,
        profilerInstanceId: deps.instanceId,
      });
    },
    async getTrace(req) {
      const live = deps.registry.get(req.jobId, req.attempt);
      if (live !== undefined) return create(GetTraceResponseSchema, { state: live.died ? "lost" : "attached", tracer: deps.tracer.name });
      const row = await deps.ledger.get(req.jobId, TRACE_STAGE, req.attempt);
      if (row === undefined) return create(GetTraceResponseSchema, { state: "unknown" });
      const owner = row.outcome["instanceId"];
      if (row.state === "started" && typeof owner === "string" && owner !== deps.instanceId && (await deps.ownerAlive(owner))) {
        return create(GetTraceResponseSchema, { state: "attached", tracer: deps.tracer.name });
      }
      const state = row.state === "done" ? "stopped" : row.state === "started" || row.state === "interrupted" ? "lost" : row.state;
      return create(GetTraceResponseSchema, { state, tracer: deps.tracer.name, profileKey: String(row.outcome["profileKey"] ?? "") });
    },
  };
}
