/** Errors of the VEX service. */
import { FailedPreconditionError, VexxyError } from "@vexxy/platform";

/** A document failed schema or rule validation: it is never emitted. */
export class InvalidVexDocumentError extends VexxyError {
  constructor(readonly problems: readonly string[]) {
    super(`the VEX document would be invalid: ${problems.slice(0, 5).join("; ")}`);
  }
}

/** A signed bundle did not verify. */
export class BundleVerificationError extends VexxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`bundle verification failed: ${message}`, undefined, options);
  }
}

/** No VEX exists (yet) for the job. */
export class VexNotReadyError extends FailedPreconditionError {}
