/**
 * Named errors of the sandbox service. Caller-facing ones are @vexxy/platform kinds, so the
 * server's error interceptor (toConnectError) gives them their Connect code and message.
 * Stage failures carry the machine-readable `reason` and `retryable` of sandbox.failed.
 */
import { NotFoundError, type VexxyErrorOptions } from "@vexxy/platform";

/** GetSandbox for a job the service never saw (NotFound, naming job_id). */
export class SandboxJobNotFoundError extends NotFoundError {
  constructor(
    readonly jobId: string,
    options: VexxyErrorOptions = {},
  ) {
    super(`job_id: no sandbox attempt of job ${jobId}`, options);
  }
}

/**
 * An attempt that cannot go on and is reported as sandbox.failed {reason, retryable} instead of
 * being redelivered.
 */
export class SandboxStageError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SandboxStageError";
  }
}

/** The profiler did not confirm an attached tracer before the deadline; the workload never started. */
export class TraceNotAttachedError extends SandboxStageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("trace_not_attached", `the tracer did not attach, so the workload was not started: ${message}`, true, options);
    this.name = "TraceNotAttachedError";
  }
}

/** The image names nothing to run, or a user that cannot be resolved inside it. */
export class ImageProcessError extends SandboxStageError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super("image_not_runnable", `${field}: ${message}`, false);
    this.name = "ImageProcessError";
  }
}
