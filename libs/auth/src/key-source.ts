/**
 * Where verification keys come from: a JWKS file (re-read when it changes, so keys rotate by
 * rewriting the file: publish the new key next to the old one, switch the issuer, drop the old
 * key later) or a JWKS URL (jose's remote set: cached, re-fetched on an unknown `kid` at most
 * once per cooldown). Keys are chosen by the token's `kid` and `alg`.
 */
import { readFileSync, statSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, jwksCache, type JSONWebKeySet, type JWKSCacheInput, type JWTVerifyGetKey } from "jose";
import { KeySetError } from "./auth-errors.js";

/** A JWKS location: exactly one of file or url. */
export type KeySource = { readonly kind: "file"; readonly path: string } | { readonly kind: "url"; readonly url: string };

// How often a JWKS file's mtime is looked at; a rotation shows up within this time.
const FILE_CHECK_MS = 2000;

function parseJwks(text: string, where: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new KeySetError(`${where}: not JSON`, { cause });
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new KeySetError(`${where}: a JWKS needs a non-empty "keys" array`);
  for (const [i, key] of keys.entries()) {
    const k = key as { kty?: unknown; d?: unknown; k?: unknown };
    if (typeof k.kty !== "string") throw new KeySetError(`${where}: keys[${i}] has no kty`);
    // A published key set holds public keys only: a private or symmetric key here is a leak.
    if (k.d !== undefined || k.k !== undefined || k.kty === "oct") throw new KeySetError(`${where}: keys[${i}] is a private or symmetric key`);
  }
  return parsed as JSONWebKeySet;
}

/**
 * Reads a JWKS file once (to fail start-up early on a bad file).
 * @throws KeySetError when the file is missing, not JSON, empty or holds a private/symmetric key.
 */
export function readJwksFile(path: string): JSONWebKeySet {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new KeySetError(`JWKS file ${path} cannot be read`, { cause });
  }
  return parseJwks(text, `JWKS file ${path}`);
}

/**
 * A key set as the verifier uses it: jose's key resolver, plus what the verified-token cache
 * needs to stay in step with rotation (when the set was last brought up to date, and the set
 * itself, replaced whenever it changes).
 */
export interface KeyLookup {
  /** The resolver jose's jwtVerify calls with the token's header (re-reads the set when due). */
  readonly getKey: JWTVerifyGetKey;
  /**
   * Whether the set was brought up to date recently enough that a token verified before may be
   * accepted again without resolving its key (file: looked at within its check interval; URL:
   * fetched within its max age). When false, the caller resolves keys through getKey, which
   * refreshes the set.
   */
  fresh(): boolean;
  /** Bumped every time the set is replaced (a re-read file, a re-fetched URL). */
  version(): number;
  /** The set in use now (undefined before a URL's first fetch). */
  current(): JSONWebKeySet | undefined;
}

function fileKeys(path: string): KeyLookup {
  let jwks = readJwksFile(path);
  let set = createLocalJWKSet(jwks);
  let mtimeMs = statSync(path).mtimeMs;
  let checkedAt = Date.now();
  let version = 1;
  return {
    async getKey(header, token) {
      if (Date.now() - checkedAt >= FILE_CHECK_MS) {
        checkedAt = Date.now();
        try {
          const now = statSync(path).mtimeMs;
          if (now !== mtimeMs) {
            jwks = readJwksFile(path);
            set = createLocalJWKSet(jwks);
            mtimeMs = now;
            version += 1;
          }
        } catch {
          // A file mid-rewrite (or briefly absent) keeps the keys last read; the next check retries.
        }
      }
      return await set(header, token);
    },
    fresh: () => Date.now() - checkedAt < FILE_CHECK_MS,
    version: () => version,
    current: () => jwks,
  };
}

function urlKeys(url: string): KeyLookup {
  // jose writes every successful fetch into this object (uat: when, jwks: what): a new uat is a new set.
  const cache: { uat?: number; jwks?: JSONWebKeySet } = {};
  const remote = createRemoteJWKSet(new URL(url), {
    cooldownDuration: 30000,
    cacheMaxAge: 600000,
    timeoutDuration: 5000,
    [jwksCache]: cache as JWKSCacheInput,
  });
  return {
    getKey: remote,
    fresh: () => remote.fresh,
    version: () => cache.uat ?? 0,
    current: () => cache.jwks,
  };
}

/**
 * The key set of a source.
 * @throws KeySetError when a JWKS file cannot be read at start.
 */
export function createKeyLookup(source: KeySource): KeyLookup {
  return source.kind === "file" ? fileKeys(source.path) : urlKeys(source.url);
}
