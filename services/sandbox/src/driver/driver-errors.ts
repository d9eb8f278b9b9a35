/** Named errors of the sandbox drivers. Each keeps the runtime's own failure in `cause`. */

/** The runtime refused or failed an operation (runc exited non-zero, a cgroup is missing). */
export class SandboxDriverError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxDriverError";
  }
}

/** A runtime command exited non-zero; `stderr` holds what it said. */
export class RuncCommandError extends SandboxDriverError {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(" ")} exited ${exitCode ?? "by signal"}: ${stderr.trim().slice(0, 500)}`);
    this.name = "RuncCommandError";
  }
}

/** The driver holds no sandbox with this id. */
export class SandboxNotFoundError extends SandboxDriverError {
  constructor(readonly containerId: string) {
    super(`no sandbox ${containerId} on this driver`);
    this.name = "SandboxNotFoundError";
  }
}

/** A container id or spec field the runtime would misread. */
export class InvalidSandboxSpecError extends SandboxDriverError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "InvalidSandboxSpecError";
  }
}

/**
 * The runtime refused this container for what the image or its config holds (runc exited
 * non-zero at create: bad working directory, missing entrypoint, a config it rejects). Final:
 * retrying the same image gives the same answer.
 */
export class SandboxRefusedError extends SandboxDriverError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxRefusedError";
  }
}

/**
 * create() was aborted (the attempt was cancelled) before the sandbox was ready; whatever it had
 * made (unpacked image, bundle, container, cgroups) is removed again. `cause` holds what the
 * interrupted step threw, if anything.
 */
export class SandboxCreateAbortedError extends SandboxDriverError {
  constructor(
    readonly containerId: string,
    options?: { cause?: unknown },
  ) {
    super(`creation of sandbox ${containerId} was aborted`, options);
    this.name = "SandboxCreateAbortedError";
  }
}
