/**
 * Where verification keys come from: a JWKS file (re-read when it changes, so keys rotate by
 * rewriting the file: publish the new key next to the old one, switch the issuer, drop the old
 * key later) or a JWKS URL (jose's remote set: cached, re-fetched on an unknown `kid` at most
 * once per cooldown). Keys are chosen by the token's `kid` and `alg`.
 */
import { readFileSync, statSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
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

function fileKeys(path: string): JWTVerifyGetKey {
  let set = createLocalJWKSet(readJwksFile(path));
  let mtimeMs = statSync(path).mtimeMs;
  let checkedAt = Date.now();
  return async (header, token) => {
    if (Date.now() - checkedAt >= FILE_CHECK_MS) {
      checkedAt = Date.now();
      try {
        const now = statSync(path).mtimeMs;
        if (now !== mtimeMs) {
          set = createLocalJWKSet(readJwksFile(path));
          mtimeMs = now;
        }
      } catch {
        // A file mid-rewrite (or briefly absent) keeps the keys last read; the next check retries.
      }
    }
    return await set(header, token);
  };
}

/**
 * The key lookup jose's jwtVerify calls with the token's header.
 * @throws KeySetError when a JWKS file cannot be read at start.
 */
export function createKeyLookup(source: KeySource): JWTVerifyGetKey {
  if (source.kind === "file") return fileKeys(source.path);
  return createRemoteJWKSet(new URL(source.url), { cooldownDuration: 30000, cacheMaxAge: 600000, timeoutDuration: 5000 });
}
