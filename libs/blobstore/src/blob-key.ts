/**
 * The one shape of a blob key, shared by every store so that a key valid on the filesystem is
 * valid on S3 and the reverse: segments of [A-Za-z0-9._-] joined by "/", no empty segment, no
 * segment starting with "." (so no "." or ".." and nothing hidden), no leading or trailing "/",
 * at most 1024 characters.
 */
import { InvalidBlobKeyError } from "./errors.js";

const MAX_KEY_LENGTH = 1024;
const ALLOWED = /^[A-Za-z0-9._/-]+$/;

/** Returns key unchanged when valid; throws InvalidBlobKeyError naming the reason otherwise. */
export function validateBlobKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) throw new InvalidBlobKeyError(String(key), "empty");
  if (key.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (!ALLOWED.test(key)) throw new InvalidBlobKeyError(key, "only A-Z a-z 0-9 . _ - / are allowed");
  if (key.startsWith("/")) throw new InvalidBlobKeyError(key, "must not start with /");
  if (key.endsWith("/")) throw new InvalidBlobKeyError(key, "must not end with /");
  for (const segment of key.split("/")) {
    if (segment.length === 0) throw new InvalidBlobKeyError(key, "empty path segment");
    if (segment === "..") throw new InvalidBlobKeyError(key, "'..' segment");
    if (segment.startsWith(".")) throw new InvalidBlobKeyError(key, "a segment must not start with '.'");
  }
  return key;
}

/**
 * Returns prefix unchanged when it can prefix a valid key ("" lists everything; a trailing "/"
 * is allowed); throws InvalidBlobKeyError otherwise.
 */
export function validateBlobPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateBlobKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
