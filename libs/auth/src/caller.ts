/**
 * Who is calling: set on the request by an auth interceptor, read by handlers. A handler never
 * parses a token itself; it asks callerOf(context) and gets either a verified caller or an
 * Unauthenticated error.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { UnauthenticatedError } from "./auth-errors.js";

/** A verified caller of the public API (from a JWT) or of an internal service (the shared secret). */
export interface Caller {
  /** "user": a VEXxy core bearer JWT; "internal": another mesh service. */
  readonly kind: "user" | "internal";
  /** The organization every job the caller sees belongs to ("" for internal callers). */
  readonly organizationId: string;
  /** The organization's tier, lower-cased (e.g. "ultimate"; "" for internal callers). */
  readonly tier: string;
  /** The token's `sub` ("" when absent; "mesh" for internal callers). */
  readonly subject: string;
}

/** The context key the interceptors set; undefined when no interceptor authenticated the call. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "vexxy caller" });

/**
 * The authenticated caller of a handler's call.
 * @throws UnauthenticatedError when no auth interceptor set one (a server wired without auth).
 */
export function callerOf(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (caller === undefined) throw new UnauthenticatedError("the call is not authenticated");
  return caller;
}
