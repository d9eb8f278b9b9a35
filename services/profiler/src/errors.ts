/** Errors of the profiler. */
import { UnavailableError, FailedPreconditionError } from "@vexxy/platform";

/** The tracer could not attach: the workload must not start. */
export class TracerAttachError extends UnavailableError {}

/** No live trace exists for a job attempt. */
export class TraceNotFoundError extends FailedPreconditionError {}
