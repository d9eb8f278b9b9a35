/**
 * The Connect interceptors that authenticate every call, and the client-side one that sends a
 * bearer credential. Health and reflection stay open (load balancers and `grpcurl list` call
 * them without credentials); every other service on the server is protected.
 *
 * Internal calls carry a shared secret as a bearer token, compared in constant time (both sides
 * hashed with SHA-256 first, so the comparison's length is fixed and reveals nothing about the
 * secret's length).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor, UnaryRequest, StreamRequest } from "@connectrpc/connect";
import { UnauthenticatedError } from "./auth-errors.js";
import { callerKey, type Caller } from "./caller.js";
import type { JwtVerifier } from "./jwt-verifier.js";

const OPEN_SERVICE_PREFIXES = ["grpc.health.", "grpc.reflection."];

/** Whether a service is open without credentials (health and reflection). */
export function isOpenService(typeName: string): boolean {
  return OPEN_SERVICE_PREFIXES.some((p) => typeName.startsWith(p));
}

/**
 * The bearer credential of a request.
 * @throws UnauthenticatedError when the header is missing or not `Bearer <token>`.
 */
export function bearerToken(req: UnaryRequest | StreamRequest): string {
  const header = req.header.get("authorization");
  if (header === null || header.trim() === "") throw new UnauthenticatedError("missing bearer token: send the header authorization: Bearer <token>");
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (match === null) throw new UnauthenticatedError("malformed authorization header: expected 'Bearer <token>'");
  return match[1]!;
}

function authenticating(authenticate: (req: UnaryRequest | StreamRequest) => Promise<Caller>): Interceptor {
  return (next) => async (req) => {
    if (!isOpenService(req.service.typeName)) req.contextValues.set(callerKey, await authenticate(req));
    return await next(req);
  };
}

/** Server interceptor of the public API: a VEXxy core JWT (see JwtVerifier) sets the caller. */
export function jwtAuthInterceptor(verifier: JwtVerifier): Interceptor {
  return authenticating(async (req) => await verifier.verify(bearerToken(req)));
}

const INTERNAL_CALLER: Caller = Object.freeze({ kind: "internal", organizationId: "", tier: "", subject: "mesh" });

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Server interceptor of an internal service: the mesh's shared secret as bearer token. */
export function internalAuthInterceptor(secret: string): Interceptor {
  const expected = digest(secret);
  return authenticating(async (req) => {
    const token = bearerToken(req);
    if (!timingSafeEqual(digest(token), expected)) throw new UnauthenticatedError("invalid internal credential");
    return INTERNAL_CALLER;
  });
}

/**
 * Client interceptor that sends `authorization: Bearer <token>` on every call; `token` may be a
 * function, read per call (a dev token re-issued while the client lives).
 */
export function bearerInterceptor(token: string | (() => string)): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${typeof token === "string" ? token : token()}`);
    return await next(req);
  };
}
