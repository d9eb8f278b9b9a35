/**
 * Verifies VEXxy core's bearer JWTs with jose and turns them into a Caller. What is checked, in
 * jose's order: the header's `alg` is on the allow-list (never `none`, never an HMAC algorithm:
 * the keys are public, so an HS256 token "signed" with a public key must fail, and it does
 * because HS* is refused by configuration and a JWKS of public keys has no `oct` key), the key
 * is chosen by `kid`, the signature, then `iss`, `aud`, `exp` (required) and `nbf` with a small
 * clock tolerance, and finally the organization claim (required) and the tier claim.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { UnauthenticatedError } from "./auth-errors.js";
import type { Caller } from "./caller.js";
import { createKeyLookup, type KeySource } from "./key-source.js";

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
  private readonly keys: JWTVerifyGetKey;

  /**
   * @throws KeySetError when a JWKS file cannot be read; Error when an algorithm is not asymmetric.
   */
  constructor(private readonly settings: JwtAuthSettings) {
    for (const alg of settings.algorithms) {
      if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) throw new Error(`algorithm ${alg} is not an allowed asymmetric JWS algorithm`);
    }
    this.keys = createKeyLookup(settings.keys);
  }

  /**
   * The caller a token proves.
   * @throws UnauthenticatedError saying which check failed (never echoing keys or the token).
   */
  async verify(token: string): Promise<Caller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...this.settings.algorithms],
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ["exp"],
      }));
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
    return Object.freeze({
      kind: "user",
      organizationId: org,
      tier: typeof tier === "string" ? tier.toLowerCase() : "",
      subject: typeof payload.sub === "string" ? payload.sub : "",
    });
  }
}
