/**
 * The seam to the profiler: between create and start the sandbox asks it to attach the tracer
 * to the container's cgroup, and starts the workload only on its answer. The implementation is
 * a Connect client of vexxy.profiler.v1.ProfilerService over gRPC (HTTP/2 cleartext). Behind a
 * Service with several profilers, the answer names the replica that holds the live trace.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ProfilerService } from "@vexxy/proto";
import { bearerInterceptor } from "@vexxy/auth";
import { traceContextClientInterceptor } from "@vexxy/platform";

/** What the sandbox tells the profiler. */
export interface TraceRequest {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
  readonly cgroupPath: string;
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
   * Resolves once the tracer is attached to request.cgroupPath.
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
    const answer = await this.client.startTrace(
      { jobId: request.jobId, attempt: request.attempt, containerId: request.containerId, cgroupPath: request.cgroupPath },
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
