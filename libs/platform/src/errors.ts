/**
 * The error kinds every service throws inside its handlers, and the one edge function that turns
 * any thrown value into the ConnectError a client sees. A kind's message goes to the client, so
 * it must describe the caller's mistake (naming the field) and never internal detail; the cause
 * is kept for logs only. Anything that is not a known kind becomes Internal with a generic
 * message, its details logged, never sent.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "./logger.js";

export interface VexxyErrorOptions {
  /** The underlying error; logged, never sent to clients. */
  readonly cause?: unknown;
}

/**
 * Base of the mesh's named errors. `code` is the Connect code a client receives; subclasses get
 * their class name as `name`. A bare VexxyError is Internal: its message is not sent.
 */
export class VexxyError extends Error {
  readonly code: Code;

  constructor(message: string, code: Code = Code.Internal, options: VexxyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A request field is missing or malformed (InvalidArgument); the message always names the field. */
export class InvalidFieldError extends VexxyError {
  /** The field's proto name as the caller wrote it, e.g. "config.test_timeout_seconds". */
  readonly field: string;

  constructor(field: string, message: string, options: VexxyErrorOptions = {}) {
    super(message.includes(field) ? message : `${field}: ${message}`, Code.InvalidArgument, options);
    this.field = field;
  }
}

/** The addressed resource does not exist, or is not visible to the caller (NotFound). */
export class NotFoundError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.NotFound, options);
  }
}

/** The request is valid but the resource is not in a state that allows it (FailedPrecondition). */
export class FailedPreconditionError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.FailedPrecondition, options);
  }
}

/** The caller's quota is used up (ResourceExhausted). */
export class QuotaExceededError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.ResourceExhausted, options);
  }
}

/** A dependency is unreachable for now; the caller may retry (Unavailable). */
export class UnavailableError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.Unavailable, options);
  }
}

/** The caller is authenticated but not allowed to do this (PermissionDenied). */
export class PermissionError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.PermissionDenied, options);
  }
}

/** The resource already exists, or a concurrent change won (AlreadyExists). */
export class ConflictError extends VexxyError {
  constructor(message: string, options: VexxyErrorOptions = {}) {
    super(message, Code.AlreadyExists, options);
  }
}

const GENERIC_INTERNAL = "internal error";

/**
 * Maps anything thrown by a handler to the ConnectError sent to the client: a ConnectError
 * passes through unchanged; a VexxyError kind keeps its message and gets its code; anything
 * else (including a bare VexxyError) is logged with its cause at error level and becomes
 * Internal with a generic message. Never throws.
 */
export function toConnectError(err: unknown, logger: Logger): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof VexxyError && err.code !== Code.Internal) return new ConnectError(err.message, err.code, undefined, undefined, err);
  logger.error("internal error", { error: err instanceof Error ? err : String(err) });
  return new ConnectError(GENERIC_INTERNAL, Code.Internal, undefined, undefined, err);
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, logger: Logger): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err, logger);
  }
}

/**
 * A server interceptor that passes every error a handler throws (unary, or while streaming)
 * through toConnectError, so a handler that forgets its error edge still never leaks an
 * internal message. startServer installs it outermost on every server.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, logger) };
    } catch (err) {
      throw toConnectError(err, logger);
    }
  };
}
