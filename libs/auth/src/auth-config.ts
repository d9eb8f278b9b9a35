/**
 * The auth variables, read through @vexxy/platform's env readers: call these inside a service's
 * loadConfig (in its config.ts) so a bad value is reported with the service's others. Neither
 * has a default that turns auth off: a service refuses to start without its credentials.
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | AUTH_JWKS_FILE | (one of the two) | JWKS file of VEXxy core's public signing keys, re-read when it changes |
 * | AUTH_JWKS_URL | (one of the two) | JWKS URL (http/https) of VEXxy core, cached, re-fetched on an unknown kid |
 * | AUTH_ISSUER | (required) | the accepted `iss` |
 * | AUTH_AUDIENCE | (required) | the accepted `aud` |
 * | AUTH_ALGORITHMS | ES256,RS256,EdDSA | allowed `alg` values (asymmetric only) |
 * | AUTH_CLOCK_TOLERANCE_SECONDS | 30 | leeway for exp and nbf |
 * | AUTH_ORG_CLAIM | org_id | claim holding the organization id |
 * | AUTH_TIER_CLAIM | tier | claim holding the organization's tier |
 * | INTERNAL_AUTH_TOKEN | (one of the two) | the mesh's shared secret (32+ characters) for internal RPCs |
 * | INTERNAL_AUTH_TOKEN_FILE | (one of the two) | a file holding that secret |
 */
import { readFileSync } from "node:fs";
import { env } from "@vexxy/platform";
import { ASYMMETRIC_ALGORITHMS, type JwtAuthSettings } from "./jwt-verifier.js";
import type { KeySource } from "./key-source.js";

/** Shortest accepted internal secret, in characters. */
export const MIN_INTERNAL_SECRET_LENGTH = 32;

/**
 * Reads the public API's JWT settings.
 * @throws ConfigError (outside loadConfig; inside, collected) naming the variable: neither or both JWKS sources, a bad algorithm, no issuer...
 */
export function jwtAuthEnv(): JwtAuthSettings {
  const file = env.optionalString("AUTH_JWKS_FILE");
  const url = env.optionalString("AUTH_JWKS_URL") === undefined ? undefined : env.url("AUTH_JWKS_URL", { protocols: ["http", "https"] });
  const issuer = env.string("AUTH_ISSUER");
  const audience = env.string("AUTH_AUDIENCE");
  const algorithms = env
    .string("AUTH_ALGORITHMS", { default: "ES256,RS256,EdDSA" })
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const clockToleranceSeconds = env.int("AUTH_CLOCK_TOLERANCE_SECONDS", { default: 30, min: 0, max: 300 });
  const organizationClaim = env.string("AUTH_ORG_CLAIM", { default: "org_id" });
  const tierClaim = env.string("AUTH_TIER_CLAIM", { default: "tier" });
  const refused = algorithms.filter((alg) => !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg));
  if (refused.length > 0 || algorithms.length === 0) {
    env.refuse("AUTH_ALGORITHMS", algorithms.join(","), `expected a list of ${ASYMMETRIC_ALGORITHMS.join(", ")} (never none or HS*)`);
  }
  let keys: KeySource = { kind: "file", path: "" };
  if (file !== undefined && url !== undefined) env.refuse("AUTH_JWKS_FILE", file, "set AUTH_JWKS_FILE or AUTH_JWKS_URL, not both");
  else if (file !== undefined) keys = { kind: "file", path: file };
  else if (url !== undefined) keys = { kind: "url", url };
  else env.refuse("AUTH_JWKS_FILE", undefined, "AUTH_JWKS_FILE or AUTH_JWKS_URL: the public API accepts only VEXxy core's signed tokens");
  return { keys, issuer, audience, algorithms, clockToleranceSeconds, organizationClaim, tierClaim };
}

/**
 * Reads the internal shared secret from INTERNAL_AUTH_TOKEN or the file INTERNAL_AUTH_TOKEN_FILE.
 * @throws ConfigError when neither is set, the file cannot be read, or the secret is shorter than 32 characters.
 */
export function internalAuthEnv(): string {
  const direct = env.optionalString("INTERNAL_AUTH_TOKEN");
  const file = env.optionalString("INTERNAL_AUTH_TOKEN_FILE");
  let secret = "";
  let variable = "INTERNAL_AUTH_TOKEN";
  if (direct !== undefined) secret = direct.trim();
  else if (file !== undefined) {
    variable = "INTERNAL_AUTH_TOKEN_FILE";
    try {
      secret = readFileSync(file, "utf8").trim();
    } catch {
      env.refuse(variable, file, "expected a readable file holding the internal secret");
      return "";
    }
  } else {
    env.refuse(variable, undefined, "INTERNAL_AUTH_TOKEN or INTERNAL_AUTH_TOKEN_FILE: internal RPCs are authenticated with the mesh's shared secret");
    return "";
  }
  // The value itself is never echoed: it is a secret.
  if (secret.length < MIN_INTERNAL_SECRET_LENGTH) env.refuse(variable, "<redacted>", `expected a secret of at least ${MIN_INTERNAL_SECRET_LENGTH} characters`);
  return secret;
}
