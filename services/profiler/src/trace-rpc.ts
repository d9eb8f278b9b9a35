/**
 * ProfilerService: StartTrace attaches the tracer to a sandbox's cgroup and answers only once
 * the probes are attached (the sandbox starts the workload only after this answer), naming this
 * process (profiler_instance_id) so that the sandbox routes "the run ended" to exactly the
 * replica holding the live trace; the ledger row records the owner right after the claim, so a
 * replica starting up does not take a live trace of another for an interrupted one. GetTrace
 * reports a trace's state, whichever replica holds it.
 *
 * The request's scope says where the workload runs: a host cgroup (the local runc driver) or a
 * container on a node (the Kubernetes driver). A scope kind this profiler's tracer cannot follow
 * is refused with FailedPrecondition naming `scope` (the request is well formed; this profiler
 * is the wrong one for it). The deprecated top-level cgroup_path is read, as a host-cgroup
 * scope, only when scope is unset: a sandbox of the previous release keeps working for one
 * release.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Subjects } from "@vexxy/events";
import { GetTraceResponseSchema, JobRefSchema, StartTraceResponseSchema, type ProfilerService, type StartTraceRequest } from "@vexxy/proto";
import type { StageLifecycle } from "@vexxy/stage";
import { FailedPreconditionError, InvalidFieldError, type Logger } from "@vexxy/platform";
import type { Tracer, TraceScope } from "./tracer/tracer.js";
import type { TraceProgress, TraceRegistry } from "./trace-registry.js";

export interface TraceRpcDeps {
  readonly tracer: Tracer;
  readonly registry: TraceRegistry;
  /** The trace stage's rows (claimed here, finished by the sandbox-events consumer). */
  readonly trace: StageLifecycle<typeof Subjects.profileReady, TraceProgress>;
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
      const scope = traceScopeOf(req, deps.tracer);
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
      const job = create(JobRefSchema, { jobId: req.jobId, attempt: req.attempt });
      const { view, owned } = await deps.trace.claimForWork(job);
      if (view.state !== "started") {
        throw new FailedPreconditionError(
          `job_id ${req.jobId} attempt ${req.attempt}: its trace already ended (${view.state}); a new attempt needs a new trace`,
        );
      }
      if (!owned) {
        // A retried StartTrace that the Service sent to another replica than the first time.
        throw new FailedPreconditionError(
          `job_id ${req.jobId} attempt ${req.attempt}: its trace is held by profiler ${view.owner ?? "?"}; a new attempt needs a new trace`,
        );
      }
      const session = await deps.tracer.start(scope, deps.attachTimeoutMs);
      deps.registry.set(session);
      const where = scope.kind === "host_cgroup" ? { cgroupPath: scope.cgroupPath } : { node: scope.node, runtimeContainerId: scope.runtimeContainerId };
      await deps.trace.recordProgress(job, { containerId: req.containerId, scope: scope.kind, ...where, attachSeconds: session.attachSeconds });
      deps.logger.info("trace attached", { job: req.jobId, attempt: req.attempt, scope: scope.kind, ...where, attachSeconds: session.attachSeconds });
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
      const row = await deps.trace.get(req.jobId, req.attempt);
      if (row === undefined) return create(GetTraceResponseSchema, { state: "unknown" });
      const owner = row.owner;
      if (row.state === "started" && owner !== undefined && owner !== deps.instanceId && (await deps.ownerAlive(owner))) {
        return create(GetTraceResponseSchema, { state: "attached", tracer: deps.tracer.name });
      }
      const state = row.state === "done" ? "stopped" : row.state === "started" || row.state === "interrupted" ? "lost" : row.state;
      return create(GetTraceResponseSchema, { state, tracer: deps.tracer.name, profileKey: row.event?.profile?.key ?? "" });
    },
  };
}

const CGROUP_ROOT = "/sys/fs/cgroup/";

/**
 * The tracer's scope of a StartTrace request: scope when set, else the deprecated cgroup_path.
 * @throws InvalidFieldError naming scope, scope.host_cgroup.cgroup_path, scope.container.node,
 * scope.container.container_id or cgroup_path for a missing or malformed one;
 * FailedPreconditionError naming scope for a kind the tracer cannot follow.
 */
export function traceScopeOf(req: StartTraceRequest, tracer: Pick<Tracer, "name" | "scopeKinds">): TraceScope {
  const owner = { jobId: req.jobId, attempt: req.attempt, containerId: req.containerId };
  // The deprecated field, read for one release (see the file's docblock).
  const legacyPath = req.cgroupPath;
  const kind = req.scope?.kind;
  if (kind === undefined || kind.case === undefined) {
    if (legacyPath === "") throw new InvalidFieldError("scope", "scope is required: host_cgroup (a sandbox on this host) or container (node and container id)");
    if (!legacyPath.startsWith(CGROUP_ROOT))
      throw new InvalidFieldError("cgroup_path", `cgroup_path must be a cgroup v2 directory under /sys/fs/cgroup (got "${legacyPath}")`);
    return requireKind({ ...owner, kind: "host_cgroup", cgroupPath: legacyPath }, tracer);
  }
  switch (kind.case) {
    case "hostCgroup": {
      const { cgroupPath, initPid } = kind.value;
      if (!cgroupPath.startsWith(CGROUP_ROOT))
        throw new InvalidFieldError(
          "scope.host_cgroup.cgroup_path",
          `scope.host_cgroup.cgroup_path must be a cgroup v2 directory under /sys/fs/cgroup (got "${cgroupPath}")`,
        );
      if (legacyPath !== "" && legacyPath !== cgroupPath)
        throw new InvalidFieldError("cgroup_path", `cgroup_path (deprecated) differs from scope.host_cgroup.cgroup_path: send scope only`);
      return requireKind({ ...owner, kind: "host_cgroup", cgroupPath, ...(initPid > 0 ? { initPid } : {}) }, tracer);
    }
    case "container": {
      const { node, containerId, runtime } = kind.value;
      // The kind is checked before its fields: a profiler that cannot follow containers at all
      // answers the same whatever the container's details.
      requireKind({ ...owner, kind: "container", node, runtimeContainerId: containerId, runtime }, tracer);
      if (node.trim() === "") throw new InvalidFieldError("scope.container.node", "scope.container.node is required");
      if (containerId.trim() === "") throw new InvalidFieldError("scope.container.container_id", "scope.container.container_id is required");
      if (legacyPath !== "") throw new InvalidFieldError("cgroup_path", "cgroup_path (deprecated) cannot accompany a container scope");
      return { ...owner, kind: "container", node, runtimeContainerId: containerId, runtime };
    }
  }
}

function requireKind(scope: TraceScope, tracer: Pick<Tracer, "name" | "scopeKinds">): TraceScope {
  if (!tracer.scopeKinds.includes(scope.kind)) {
    const where = scope.kind === "container" ? `a container scope (node "${scope.node}")` : "a host cgroup scope";
    throw new FailedPreconditionError(
      `scope: this profiler's ${tracer.name} tracer follows ${tracer.scopeKinds.join(", ") || "no"} scopes and cannot trace ${where}; send it to a profiler whose tracer follows that kind (a node-wide tracer such as Tracee for containers)`,
    );
  }
  return scope;
}
