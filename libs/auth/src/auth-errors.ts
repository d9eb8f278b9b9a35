/** The auth error kinds; their messages go to the client, so they say why without any key material. */
import { Code } from "@connectrpc/connect";
import { VexxyError, type VexxyErrorOptions } from "@vexxy/platform";

/** The caller did not prove who it is: no, malformed, or invalid credentials (Unauthenticated). */
export class UnauthenticatedError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.Unauthenticated, options);
  }
}

/** A JWKS could not be read or holds no usable key. */
export class KeySetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeySetError";
  }
}
