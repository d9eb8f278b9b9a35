/**
 * Verifies VEXxy core's bearer JWTs with jose and turns them into a Caller. What is checked, in
 * jose's order: the header's `alg` is on the allow-list (never `none`, never an HMAC algorithm:
 * the keys are public, so an HS256 token "signed" with a public key must fail, and it does
 * because HS* is refused by configuration and a JWKS of public keys has no `oct` key), the key
 * is chosen by `kid`, the signature, then `iss`, `aud`, `exp` (required) and `nbf` with a small
 * clock tolerance, and finally the organization claim (required) and the tier claim.
 *
 * A token that passed is remembered (VerifiedTokenCache: keyed by the whole token, never past
 * its `exp`, evicted when its key leaves the key set), so the same token on the next call skips
 * the signature check; see verified-token-cache.ts for why that is safe.
 */
import { errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWSHeaderParameters } from "jose";
import { UnauthenticatedError } from "./auth-errors.js";
import type { Caller } from "./caller.js";
import { createKeyLookup, type KeyLookup, type KeySource } from "./key-source.js";
import { VerifiedTokenCache, type TokenCacheStats } from "./verified-token-cache.js";

/** Asymmetric JWS algorithms a verifier may allow. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;

/** How bearer JWTs are verified. */
export interface JwtAuthSettings {
  readonly keys: KeySource;
  readonly issuer: string;
  readonly audience: string;
  /** Allowed `alg` values; only asymmetric ones (ASYMMETRIC_ALGORITHMS). */
  readonly algorithms: readonly string[];
  /** Leeway for exp and nbf, in seconds. */
  readonly clockToleranceSeconds: number;
  /** Claim holding the organization id (default org_id). */
  readonly organizationClaim: string;
  /** Claim holding the tier (default tier). */
  readonly tierClaim: string;
}

/** Options of a verifier that are not configuration. */
export interface JwtVerifierOptions {
  /** Most verified tokens remembered (default DEFAULT_TOKEN_CACHE_SIZE); 0 turns the cache off. */
  readonly tokenCacheSize?: number;
  /** The clock, in ms since the epoch (default Date.now); tests move it to expire a cached token. */
  readonly now?: () => number;
}

/** Verified tokens remembered by default: one per active VEXxy core session is plenty. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

const ORG_ID = /^[A-Za-z0-9._-]{1,128}$/;

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return "the token is not valid yet (nbf)";
    if (err.claim === "iss") return "the token's issuer (iss) is not accepted";
    if (err.claim === "aud") return "the token's audience (aud) is not this service";
    if (err.claim === "exp") return "the token has no expiry (exp)";
    return `the token's ${err.claim} claim is invalid`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not allowed";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key matches the token's kid and algorithm";
  if (err instanceof errors.JWKSMultipleMatchingKeys) return "the token names no kid and several keys match";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  if (err instanceof errors.JWKSTimeout) return "the key set could not be fetched in time";
  if (err instanceof errors.JOSENotSupported) return "the token uses an unsupported algorithm or key";
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return "the token is malformed";
  return "the token could not be verified";
}

/** Verifies bearer JWTs; see the module doc for the checks. */
export class JwtVerifier {
  private readonly keys: KeyLookup;
  private readonly cache: VerifiedTokenCache | undefined;
  private readonly now: () => number;
  // The key set the cache was last brought in step with.
  private seenVersion: number;
  private seenSet: JSONWebKeySet | undefined;

  /**
   * @throws KeySetError when a JWKS file cannot be read; Error when an algorithm is not asymmetric
   *   or the cache size is not a non-negative integer.
   */
  constructor(
    private readonly settings: JwtAuthSettings,
    options: JwtVerifierOptions = {},
  ) {
    for (const alg of settings.algorithms) {
      if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) throw new Error(`algorithm ${alg} is not an allowed asymmetric JWS algorithm`);
    }
    const size = options.tokenCacheSize ?? DEFAULT_TOKEN_CACHE_SIZE;
    if (!Number.isInteger(size) || size < 0) throw new Error(`tokenCacheSize must be a non-negative integer (got ${size})`);
    this.cache = size === 0 ? undefined : new VerifiedTokenCache(size);
    this.now = options.now ?? Date.now;
    this.keys = createKeyLookup(settings.keys);
    this.seenVersion = this.keys.version();
    this.seenSet = this.keys.current();
  }

  /**
   * The caller a token proves.
   * @throws UnauthenticatedError saying which check failed (never echoing keys or the token).
   */
  async verify(token: string): Promise<Caller> {
    const now = this.now();
    this.syncKeys();
    // A set that is due for a look (file) or a fetch (URL) is brought up to date by the full
    // path below first, so a rotation is seen as soon as it would be without the cache.
    if (this.cache !== undefined && this.keys.fresh()) {
      const cached = this.cache.get(token, Math.floor(now / 1000), this.settings.clockToleranceSeconds);
      if (cached !== undefined) return cached;
    }
    let payload: JWTPayload;
    let header: JWSHeaderParameters;
    // The key set's version when this token's key was chosen.
    let keyVersion = Number.NaN;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(
        token,
        async (protectedHeader, jws) => {
          const key = await this.keys.getKey(protectedHeader, jws);
          this.syncKeys();
          keyVersion = this.keys.version();
          return key;
        },
        {
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          algorithms: [...this.settings.algorithms],
          clockTolerance: this.settings.clockToleranceSeconds,
          requiredClaims: ["exp"],
          currentDate: new Date(now),
        },
      ));
    } catch (err) {
      throw new UnauthenticatedError(`invalid bearer token: ${describe(err)}`, { cause: err });
    }
    const org = payload[this.settings.organizationClaim];
    if (typeof org !== "string" || !ORG_ID.test(org)) {
      throw new UnauthenticatedError(
        `invalid bearer token: claim ${this.settings.organizationClaim} must name the organization (letters, digits, '.', '_', '-')`,
      );
    }
    const tier = payload[this.settings.tierClaim];
    const caller: Caller = Object.freeze({
      kind: "user",
      organizationId: org,
      tier: typeof tier === "string" ? tier.toLowerCase() : "",
      subject: typeof payload.sub === "string" ? payload.sub : "",
    });
    this.syncKeys();
    // Not remembered when the key set changed while the signature was being checked: the
    // eviction for that change has run already and must not be undone.
    if (this.cache !== undefined && keyVersion === this.keys.version() && typeof payload.exp === "number") {
      this.cache.set(token, caller, { exp: payload.exp, nbf: payload.nbf, kid: header.kid });
    }
    return caller;
  }

  /** Hits, misses and size of the verified-token cache (zeros when it is off). */
  get tokenCacheStats(): TokenCacheStats {
    return this.cache?.stats ?? { hits: 0, misses: 0, size: 0 };
  }

  /** Evicts what a replaced key set revoked, once per replacement. */
  private syncKeys(): void {
    const version = this.keys.version();
    if (version === this.seenVersion) return;
    const set = this.keys.current();
    this.cache?.keysChanged(this.seenSet, set);
    this.seenVersion = version;
    this.seenSet = set;
  }
}
