/**
 * The seam to the profiler: between create and start the sandbox asks it to attach the tracer
 * to the sandbox's trace scope (whatever the driver answered: a host cgroup, or node and
 * container id), and starts the workload only on its answer. The implementation is
 * a Connect client of vexxy.profiler.v1.ProfilerService over gRPC (HTTP/2 cleartext). Behind a
 * Service with several profilers, the answer names the replica that holds the live trace.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ProfilerService, type TraceScopeSchema } from "@vexxy/proto";
import { bearerInterceptor } from "@vexxy/auth";
import { traceContextClientInterceptor } from "@vexxy/platform";
import type { TraceScope } from "./driver/sandbox-driver.js";

/** What the sandbox tells the profiler. */
export interface TraceRequest {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
  /** Where the workload runs, as the driver's create answered. */
  readonly scope: TraceScope;
}

/** The profiler's confirmation that probes are attached. */
export interface AttachedTrace {
  readonly traceId: string;
  readonly tracer: string;
  readonly cgroupId: bigint;
  readonly attachSeconds: number;
  /** The profiler process holding the live trace ("" from a profiler before replicas). */
  readonly profilerInstanceId: string;
}

export interface TraceAttacher {
  /**
   * Resolves once the tracer is attached to request.scope.
   * @throws (ConnectError or any error) when it is not attached within timeoutMs.
   */
  startTrace(request: TraceRequest, timeoutMs: number): Promise<AttachedTrace>;
}

/** TraceAttacher calling ProfilerService.StartTrace at baseUrl (e.g. http://127.0.0.1:50053) with the internal secret. */
export class ProfilerTraceAttacher implements TraceAttacher {
  private readonly client: Client<typeof ProfilerService>;

  constructor(baseUrl: string, internalAuthToken: string) {
    this.client = createClient(
      ProfilerService,
      createGrpcTransport({ baseUrl, interceptors: [bearerInterceptor(internalAuthToken), traceContextClientInterceptor()] }),
    );
  }

  async startTrace(request: TraceRequest, timeoutMs: number): Promise<AttachedTrace> {
    // Only scope is sent, never the deprecated cgroup_path: profilers are upgraded before sandboxes.
    const answer = await this.client.startTrace(
      { jobId: request.jobId, attempt: request.attempt, containerId: request.containerId, scope: { kind: scopeKind(request.scope) } },
      { timeoutMs },
    );
    return {
      traceId: answer.traceId,
      tracer: answer.tracer,
      cgroupId: answer.cgroupId,
      attachSeconds: answer.attachSeconds,
      profilerInstanceId: answer.profilerInstanceId,
    };
  }
}

/** The StartTrace scope of a driver's trace scope. */
function scopeKind(scope: TraceScope): NonNullable<MessageInitShape<typeof TraceScopeSchema>["kind"]> {
  switch (scope.kind) {
    case "host_cgroup":
      return { case: "hostCgroup", value: { cgroupPath: scope.cgroupV2Path, initPid: scope.initPid } };
    case "container":
      return { case: "container", value: { node: scope.node, containerId: scope.containerId, runtime: scope.runtime } };
  }
}
