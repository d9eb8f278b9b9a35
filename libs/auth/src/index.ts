/**
 * @vexxy/auth: who is calling. Bearer JWTs of VEXxy core verified with jose (JWKS file or URL,
 * allow-listed asymmetric algorithms, iss/aud/exp/nbf), the mesh's shared secret for internal
 * RPCs, the Connect interceptors that set the caller, and dev credentials for the embedded
 * stack. Variables are listed in auth-config.ts.
 */
export { UnauthenticatedError, KeySetError } from "./auth-errors.js";
export { callerKey, callerOf, type Caller } from "./caller.js";
export { createKeyLookup, readJwksFile, type KeySource } from "./key-source.js";
export { ASYMMETRIC_ALGORITHMS, JwtVerifier, type JwtAuthSettings } from "./jwt-verifier.js";
export { bearerInterceptor, bearerToken, internalAuthInterceptor, isOpenService, jwtAuthInterceptor } from "./interceptors.js";
export { MIN_INTERNAL_SECRET_LENGTH, internalAuthEnv, jwtAuthEnv } from "./auth-config.js";
export { DEV_AUDIENCE, DEV_ISSUER, createDevCredentials, type DevCredentials, type DevCredentialsOptions, type DevTokenClaims } from "./dev-credentials.js";
