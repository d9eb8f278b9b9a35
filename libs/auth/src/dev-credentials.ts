/**
 * Credentials for the embedded stack and tests: an ES256 signing key standing in for VEXxy
 * core's, its JWKS file, the internal secret, and tokens signed with the key. Files live in
 * one directory and are reused when present, so a stack with a kept state dir keeps accepting
 * the tokens it printed before.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";

/** Issuer and audience of the dev tokens. */
export const DEV_ISSUER = "https://vexxy.local/dev-issuer";
export const DEV_AUDIENCE = "vexxy-reachability";

/** Claims of a minted token; org and tier go to the default claim names org_id and tier. */
export interface DevTokenClaims {
  readonly organizationId: string;
  readonly tier?: string;
  readonly subject?: string;
  /** Lifetime in seconds (default 7 days). */
  readonly ttlSeconds?: number;
}

export interface DevCredentials {
  readonly dir: string;
  readonly jwksFile: string;
  readonly internalTokenFile: string;
  readonly internalToken: string;
  /** A token for organization "dev", tier "ultimate"; also written to devTokenFile. */
  readonly devToken: string;
  readonly devTokenFile: string;
  /** The environment that configures a service with these credentials. */
  readonly env: Readonly<Record<string, string>>;
  /** Signs a token with the dev key. */
  mint(claims: DevTokenClaims): Promise<string>;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  return await readFile(path, "utf8").catch(() => undefined);
}

export interface DevCredentialsOptions {
  /** Where the dev token is written (default `dir/dev-token`). */
  readonly devTokenFile?: string;
}

/**
 * Creates (or reuses) the credentials in dir.
 * @throws when dir cannot be written.
 */
export async function createDevCredentials(dir: string, options: DevCredentialsOptions = {}): Promise<DevCredentials> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, "dev-signing-key.jwk.json");
  const jwksFile = join(dir, "jwks.json");
  const internalTokenFile = join(dir, "internal-auth-token");
  const devTokenFile = options.devTokenFile ?? join(dir, "dev-token");
  let privateJwk: JWK;
  const kept = await readIfPresent(keyFile);
  if (kept !== undefined) privateJwk = JSON.parse(kept) as JWK;
  else {
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateJwk = { ...(await exportJWK(pair.privateKey)), kid: `dev-${randomBytes(6).toString("hex")}`, alg: "ES256", use: "sig" };
    await writeFile(keyFile, JSON.stringify(privateJwk), { mode: 0o600 });
  }
  const { d: _d, ...publicJwk } = privateJwk;
  await writeFile(jwksFile, `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`);
  let internalToken = (await readIfPresent(internalTokenFile))?.trim();
  if (internalToken === undefined || internalToken.length < 32) {
    internalToken = randomBytes(32).toString("hex");
    await writeFile(internalTokenFile, internalToken, { mode: 0o600 });
  }
  const key = await importJWK(privateJwk, "ES256");
  const kid = privateJwk.kid ?? "dev";
  const mint = async (claims: DevTokenClaims): Promise<string> =>
    await new SignJWT({ org_id: claims.organizationId, tier: claims.tier ?? "ultimate" })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setSubject(claims.subject ?? "dev-user")
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.ttlSeconds ?? 7 * 24 * 3600))
      .sign(key);
  const devToken = await mint({ organizationId: "dev", tier: "ultimate" });
  await writeFile(devTokenFile, `${devToken}\n`, { mode: 0o600 });
  return {
    dir,
    jwksFile,
    internalTokenFile,
    internalToken,
    devToken,
    devTokenFile,
    env: Object.freeze({
      AUTH_JWKS_FILE: jwksFile,
      AUTH_ISSUER: DEV_ISSUER,
      AUTH_AUDIENCE: DEV_AUDIENCE,
      INTERNAL_AUTH_TOKEN_FILE: internalTokenFile,
    }),
    mint,
  };
}
