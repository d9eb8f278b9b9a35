/**
 * @vexxy/auth: who is calling. Bearer JWTs of VEXxy core verified with jose (JWKS file or URL,
 * allow-listed asymmetric algorithms, iss/aud/exp/nbf), the mesh's shared secret for internal
 * RPCs, the Connect interceptors that set the caller, and dev credentials for the embedded
 * stack. Variables are listed in auth-config.ts.
 */
export { UnauthenticatedError, KeySetError } from "./auth-errors.js";
export { callerKey, callerOf, type Caller } from "./caller.js";
export { createKeyLookup, readJwksFile, type KeyLookup, type KeySource } from "./key-source.js";
export { ASYMMETRIC_ALGORITHMS, DEFAULT_TOKEN_CACHE_SIZE, JwtVerifier, type JwtAuthSettings, type JwtVerifierOptions } from "./jwt-verifier.js";
export { VerifiedTokenCache, type TokenCacheStats } from "./verified-token-cache.js";
export { bearerInterceptor, bearerToken, internalAuthInterceptor, isOpenService, jwtAuthInterceptor } from "./interceptors.js";
export { MIN_INTERNAL_SECRET_LENGTH, internalAuthEnv, jwtAuthEnv } from "./auth-config.js";
export { DEV_AUDIENCE, DEV_ISSUER, createDevCredentials, type DevCredentials, type DevCredentialsOptions, type DevTokenClaims } from "./dev-credentials.js";
