/**
 * Bearer tokens already verified, so a caller repeating its token (VEXxy core sends the same one
 * on every call until it expires) skips the signature check: on this machine that check is the
 * largest single cost of a GetAnalysis (see bench/RESULTS.md, issue 10).
 *
 * What makes it safe:
 * - the key is the whole token string (header, payload and signature), so a token that differs
 *   in any byte, a re-signed or tampered one included, never hits an entry;
 * - only a token that passed every check is stored, with the Caller it proved;
 * - an entry never outlives its token: `exp` and `nbf` are checked again at every use, with
 *   the same clock tolerance as jose's check (a token no longer usable is dropped and the caller
 *   verifies it in full, which refuses it with jose's own reason);
 * - key rotation revokes: when the key set is replaced, every entry whose `kid` is gone, or
 *   whose `kid` now names different key material, is evicted (every entry without a `kid`, which
 *   any key may have verified, too), and a verification that was in flight while the set changed
 *   is not stored;
 * - it is bounded: least recently used entries go first once `capacity` is reached.
 */
import type { JSONWebKeySet } from "jose";
import type { Caller } from "./caller.js";

interface Entry {
  readonly caller: Caller;
  /** Seconds since the epoch. */
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly kid: string | undefined;
}

/** Hits and misses since start, and the entries held. */
export interface TokenCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

/** The public material of each `kid` of a set, one string per key, to tell a rotated key from an unchanged one. */
function keysByKid(set: JSONWebKeySet | undefined): Map<string | undefined, string> {
  const byKid = new Map<string | undefined, string[]>();
  for (const jwk of set?.keys ?? []) {
    const list = byKid.get(jwk.kid) ?? [];
    // Every member of the JWK (kty, crv, x, y, n, e, alg, use, key_ops...), in a fixed order.
    list.push(JSON.stringify(Object.entries(jwk).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
    byKid.set(jwk.kid, list);
  }
  return new Map([...byKid].map(([kid, list]) => [kid, list.sort().join("\n")]));
}

/** See the module doc. */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private hits = 0;
  private misses = 0;

  /** @param capacity most entries held (at least 1). */
  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`token cache capacity must be a positive integer (got ${capacity})`);
  }

  /**
   * The caller a cached token proved, when the token is cached and usable at `nowSeconds`
   * (exp > now - tolerance, nbf <= now + tolerance, as jose checks them); undefined otherwise
   * (an entry no longer usable is dropped).
   */
  get(token: string, nowSeconds: number, toleranceSeconds: number): Caller | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) {
      this.misses += 1;
      return undefined;
    }
    if (entry.exp <= nowSeconds - toleranceSeconds || (entry.nbf !== undefined && entry.nbf > nowSeconds + toleranceSeconds)) {
      this.entries.delete(token);
      this.misses += 1;
      return undefined;
    }
    // Most recently used last: Map keeps insertion order.
    this.entries.delete(token);
    this.entries.set(token, entry);
    this.hits += 1;
    return entry.caller;
  }

  /** Remembers a token that passed every check. */
  set(token: string, caller: Caller, claims: { readonly exp: number; readonly nbf: number | undefined; readonly kid: string | undefined }): void {
    this.entries.delete(token);
    this.entries.set(token, { caller, exp: claims.exp, nbf: claims.nbf, kid: claims.kid });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Evicts every entry the change from `before` to `after` may have revoked (see the module doc). */
  keysChanged(before: JSONWebKeySet | undefined, after: JSONWebKeySet | undefined): void {
    const old = keysByKid(before);
    const now = keysByKid(after);
    for (const [token, entry] of this.entries) {
      if (entry.kid === undefined || old.get(entry.kid) !== now.get(entry.kid)) this.entries.delete(token);
    }
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
  }

  get stats(): TokenCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }
}
