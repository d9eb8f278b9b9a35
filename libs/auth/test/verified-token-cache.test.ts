/**
 * The verified-token cache of JwtVerifier, against a real JWKS file and real ES256 tokens: a
 * repeated token is served from the cache, but never past its exp or before its nbf (the clock
 * is moved, not waited for), a token differing in any byte never hits, and a key that leaves the
 * key set (or is replaced under the same kid) revokes the tokens it verified.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { JwtVerifier, UnauthenticatedError, VerifiedTokenCache, type Caller, type JwtAuthSettings } from "../src/index.js";

const ISSUER = "https://core.vexxy.test/";
const AUDIENCE = "vexxy-reachability";
const TOLERANCE = 30;

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function key(kid: string): Promise<Key> {
  const pair = await generateKeyPair("ES256", { extractable: true });
  return { kid, privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" } };
}

/** A token for organization acme; exp and nbf in seconds from now. */
async function token(k: Key, o: { org?: string; exp?: number; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ org_id: o.org ?? "acme", tier: "ultimate" })
    .setProtectedHeader({ alg: "ES256", kid: k.kid, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("user-1")
    .setIssuedAt()
    .setExpirationTime(now + (o.exp ?? 600));
  if (o.nbf !== undefined) jwt.setNotBefore(now + o.nbf);
  return await jwt.sign(k.privateKey);
}

async function refusal(promise: Promise<Caller>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UnauthenticatedError, String(err));
    return err.message;
  }
  assert.fail("the token was accepted");
}

describe("verified-token cache (JwtVerifier with a JWKS file; real ES256 tokens)", function () {
  this.timeout(30000);
  let dir: TempDir;
  let a: Key;
  let b: Key;
  let jwksFile: string;
  let clockMs: number;
  let settings: JwtAuthSettings;
  const writeJwks = async (keys: Key[]): Promise<void> => {
    await writeFile(jwksFile, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  };
  const verifier = (tokenCacheSize?: number): JwtVerifier =>
    new JwtVerifier(settings, { now: () => clockMs, ...(tokenCacheSize !== undefined ? { tokenCacheSize } : {}) });

  before(async () => {
    dir = await tempDir("auth-token-cache");
    [a, b] = await Promise.all([key("key-a"), key("key-b")]);
    jwksFile = join(dir.path, "jwks.json");
  });
  beforeEach(async () => {
    clockMs = Date.now();
    await writeJwks([a, b]);
    settings = {
      keys: { kind: "file", path: jwksFile },
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256"],
      clockToleranceSeconds: TOLERANCE,
      organizationClaim: "org_id",
      tierClaim: "tier",
    };
  });
  after(async () => {
    await dir?.remove();
  });

  it("answers a repeated token from the cache with the same caller", async () => {
    const v = verifier();
    const t = await token(a);
    const first = await v.verify(t);
    const again = await v.verify(t);
    assert.equal(first.organizationId, "acme");
    assert.deepEqual(again, first);
    assert.deepEqual(v.tokenCacheStats, { hits: 1, misses: 1, size: 1 });
  });

  it("refuses a cached token once it has expired (past the clock tolerance) with jose's reason, and accepts it within the tolerance", async () => {
    const v = verifier();
    const t = await token(a, { exp: 60 });
    await v.verify(t);
    clockMs += (60 + TOLERANCE - 2) * 1000;
    assert.equal((await v.verify(t)).organizationId, "acme", "within the leeway");
    assert.equal(v.tokenCacheStats.hits, 1);
    clockMs += 3000;
    assert.match(await refusal(v.verify(t)), /the token has expired/);
    assert.equal(v.tokenCacheStats.hits, 1, "the expired entry was not served");
    assert.equal(v.tokenCacheStats.size, 0, "the expired entry was dropped");
  });

  it("refuses a cached token at a time before its nbf (past the clock tolerance)", async () => {
    const v = verifier();
    const t = await token(a, { nbf: 100 });
    clockMs += 100_000;
    await v.verify(t);
    clockMs -= (100 + TOLERANCE + 2) * 1000;
    assert.match(await refusal(v.verify(t)), /not valid yet \(nbf\)/);
  });

  it("never answers a tampered token from the cache: a flipped signature byte, a changed payload, a re-encoded header", async () => {
    const v = verifier();
    const good = await token(a);
    await v.verify(good);
    const [h, p, s] = good.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    assert.match(await refusal(v.verify(flipped)), /signature is invalid/);
    const victim = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), org_id: "victim" })).toString("base64url");
    assert.match(await refusal(v.verify(`${h}.${victim}.${s}`)), /signature is invalid/);
    const header = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h, "base64url").toString()), typ: "jwt" })).toString("base64url");
    assert.match(await refusal(v.verify(`${header}.${p}.${s}`)), /signature is invalid/);
    // The good token's own entry is the only one, and none of the three was served from it.
    assert.deepEqual(v.tokenCacheStats, { hits: 0, misses: 4, size: 1 });
    assert.equal((await v.verify(good)).organizationId, "acme");
    assert.equal(v.tokenCacheStats.hits, 1);
  });

  it("evicts the tokens of a key that leaves the JWKS file, and keeps those of the keys still in it", async () => {
    const v = verifier();
    const ta = await token(a);
    const tb = await token(b);
    await v.verify(ta);
    await v.verify(tb);
    await writeJwks([b]);
    // The file is looked at every 2 s.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    clockMs = Date.now();
    // Another caller's new token is verified in full, which re-reads the file: from then on the
    // set is fresh and key-a's token would be served from the cache if it had not been evicted.
    await v.verify(await token(b, { org: "other" }));
    assert.match(await refusal(v.verify(ta)), /no key matches/);
    const hits = v.tokenCacheStats.hits;
    assert.equal((await v.verify(tb)).organizationId, "acme");
    assert.equal(v.tokenCacheStats.hits, hits + 1, "key-b's token is still cached");
  });

  it("evicts the tokens of a kid whose key material is replaced", async () => {
    const v = verifier();
    const ta = await token(a);
    await v.verify(ta);
    const replacement = await key("key-a");
    await writeJwks([replacement, b]);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    clockMs = Date.now();
    assert.equal((await v.verify(await token(replacement))).organizationId, "acme", "the new key-a verifies (and the file is re-read)");
    assert.match(await refusal(v.verify(ta)), /signature is invalid/);
  });

  it("holds at most its capacity, dropping the least recently used token first", async () => {
    const v = verifier(2);
    const [t1, t2, t3] = await Promise.all([token(a, { org: "one" }), token(a, { org: "two" }), token(a, { org: "three" })]);
    await v.verify(t1);
    await v.verify(t2);
    await v.verify(t1); // t1 used last: t2 is now the oldest
    await v.verify(t3);
    assert.equal(v.tokenCacheStats.size, 2);
    const before = v.tokenCacheStats;
    await v.verify(t1);
    await v.verify(t2);
    assert.equal(v.tokenCacheStats.hits, before.hits + 1, "t1 hit, t2 was evicted");
    assert.equal(v.tokenCacheStats.misses, before.misses + 1);
  });

  it("with a cache size of 0 verifies every call in full", async () => {
    const v = verifier(0);
    const t = await token(a);
    await v.verify(t);
    await v.verify(t);
    assert.deepEqual(v.tokenCacheStats, { hits: 0, misses: 0, size: 0 });
  });

  it("uses exactly jose's boundaries: usable while exp > now - tolerance and nbf <= now + tolerance", () => {
    const cache = new VerifiedTokenCache(10);
    const caller: Caller = { kind: "user", organizationId: "acme", tier: "ultimate", subject: "" };
    cache.set("t", caller, { exp: 1000, nbf: 500, kid: "k" });
    assert.equal(cache.get("t", 1029, 30), caller);
    assert.equal(cache.get("t", 469, 30), undefined, "nbf 500 > 469 + 30");
    cache.set("t", caller, { exp: 1000, nbf: 500, kid: "k" });
    assert.equal(cache.get("t", 470, 30), caller, "nbf 500 <= 470 + 30");
    assert.equal(cache.get("t", 1030, 30), undefined, "exp 1000 <= 1030 - 30");
  });
});
