/**
 * What can go wrong taking in a stranger's image. Each is the caller's problem (InvalidArgument
 * at an RPC edge, a non-retryable sandbox.failed with this reason in an event).
 */
import { InvalidFieldError } from "@vexxy/platform";

/** Base of intake errors; `reason` is the machine-readable failure reason. */
export class ImageIntakeError extends InvalidFieldError {
  constructor(
    readonly reason: string,
    field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(field, message, options);
  }
}

export class ImageDigestMismatchError extends ImageIntakeError {
  constructor(expected: string, actual: string) {
    super("image_digest_mismatch", "image_digest", `image_digest: the image's manifest digest is ${actual}, not ${expected}`);
  }
}

export class ImageBlobDigestError extends ImageIntakeError {
  constructor(digest: string, actual: string) {
    super("image_blob_corrupt", "image_ref", `image_ref: blob ${digest} has sha256:${actual}; the image is corrupt or was altered`);
  }
}

export class UnsafeLayerEntryError extends ImageIntakeError {
  constructor(layer: string, entry: string, why: string) {
    super("unpack_refused", "image_ref", `image_ref: layer ${layer.slice(0, 19)} entry "${entry.slice(0, 200)}" refused: ${why}`);
  }
}

export class ImageTooLargeError extends ImageIntakeError {
  constructor(limit: number) {
    super("image_too_large", "image_ref", `image_ref: the image unpacks to more than ${limit} bytes (SANDBOX_MAX_UNPACKED_BYTES)`);
  }
}

export class ImageUnreadableError extends ImageIntakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("image_unreadable", "image_ref", `image_ref: ${message}`, options);
  }
}
