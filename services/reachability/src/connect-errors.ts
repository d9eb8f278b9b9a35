/**
 * The error edge: this service's named errors become ConnectErrors with the right code and a
 * message naming the field; anything else goes to the platform's toConnectError (Internal,
 * cause logged, never sent).
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { toConnectError, type Logger } from "@vexxy/platform";
import { InvalidRequestError, ScanFormatError, VerdictsNotFoundError } from "./errors.js";

/** Maps one error. */
export function reachabilityConnectError(error: unknown, logger: Logger): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof InvalidRequestError || error instanceof ScanFormatError) return new ConnectError(error.message, Code.InvalidArgument, undefined, undefined, error);
  if (error instanceof VerdictsNotFoundError) {
    return new ConnectError(error.message, error.states.length === 0 ? Code.NotFound : Code.FailedPrecondition, undefined, undefined, error);
  }
  return toConnectError(error, logger);
}

/** Wraps every unary method of an implementation with reachabilityConnectError. */
export function withConnectErrors<S extends DescService>(impl: ServiceImpl<S>, logger: Logger): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(impl as Record<string, (...args: unknown[]) => Promise<unknown>>)) {
    wrapped[name] = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await method.apply(impl, args);
      } catch (error) {
        throw reachabilityConnectError(error, logger);
      }
    };
  }
  return wrapped as ServiceImpl<S>;
}
