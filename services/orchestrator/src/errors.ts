/**
 * The orchestrator's error edge: every handler's errors go through toConnectError, so a
 * caller's mistake keeps its code and field name and anything unexpected becomes Internal
 * with the cause logged, never sent.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { toConnectError, type Logger } from "@vexxy/platform";

/** Wraps every method of a service implementation (unary and server-streaming) with toConnectError. */
export function withConnectErrors<S extends DescService>(impl: ServiceImpl<S>, logger: Logger): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(impl as Record<string, (...args: unknown[]) => unknown>)) {
    wrapped[name] = function (this: unknown, ...args: unknown[]): unknown {
      let result: unknown;
      try {
        result = method.apply(impl, args);
      } catch (err) {
        throw toConnectError(err, logger);
      }
      if (result !== null && typeof result === "object" && Symbol.asyncIterator in result) {
        const iterable = result as AsyncIterable<unknown>;
        return (async function* () {
          try {
            yield* iterable;
          } catch (err) {
            throw toConnectError(err, logger);
          }
        })();
      }
      if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(toConnectError(err, logger)));
      return result;
    };
  }
  return wrapped as ServiceImpl<S>;
}
