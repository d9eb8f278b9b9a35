/**
 * Errors of the VEX service. The first three are permanent for the job attempt that raised
 * them (the scored event is answered with analysis.failed, never retried); the rest are RPC
 * kinds that the platform's error interceptor maps to Connect codes.
 */
import { FailedPreconditionError, InvalidFieldError, VexxyError, type VexxyErrorOptions } from "@vexxy/platform";

/** A document failed the OpenVEX schema or go-vex's statement rules: it is never emitted. */
export class InvalidVexDocumentError extends VexxyError {
  /** Every problem found, each starting with the JSON pointer it concerns. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: VexxyErrorOptions = {}) {
    super(
      `the VEX document would be invalid: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ""}`,
      undefined,
      options,
    );
    this.problems = problems;
  }
}

/** The job's image reference, image name or digest gives no product purl. */
export class ProductIdentityError extends VexxyError {
  /** analysis.failed reason: "no_image_name" when no repository is known, else "invalid_image_ref". */
  readonly reason: string;

  constructor(message: string, options: VexxyErrorOptions & { reason?: string } = {}) {
    super(message, undefined, options);
    this.reason = options.reason ?? "invalid_image_ref";
  }
}

/**
 * The conformance self-check found not_affected statements that neither Grype nor Trivy would
 * apply to the scan: the document is not signed.
 */
export class VexNotApplicableError extends VexxyError {
  /** One line per statement neither tool applies. */
  readonly statements: readonly string[];

  constructor(statements: readonly string[], options: VexxyErrorOptions = {}) {
    super(
      `${statements.length} not_affected statement(s) would be applied by neither Grype nor Trivy: ${statements.slice(0, 3).join("; ")}${statements.length > 3 ? ` (+${statements.length - 3} more)` : ""}`,
      undefined,
      options,
    );
    this.statements = statements;
  }
}

/** No writer is registered for the requested VEX format. */
export class UnsupportedVexFormatError extends InvalidFieldError {
  constructor(format: string) {
    super("format", `format: no VEX writer for ${JSON.stringify(format)}`);
  }
}

/** A signed bundle did not verify: malformed, not an OpenVEX attestation, or a bad signature. */
export class BundleVerificationError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(`bundle verification failed: ${message}`, undefined, options);
  }
}

/** The signing key file is unreadable or holds no ECDSA P-256 private key. */
export class SigningKeyError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, undefined, options);
  }
}

/** The job's VEX exists in the ledger but is not signed (still running, failed or cancelled). */
export class VexNotReadyError extends FailedPreconditionError {}
