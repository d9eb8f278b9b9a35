/**
 * At-rest encryption of the filesystem store: AES-256-GCM with a fresh random 96-bit nonce per
 * object and the object's key as additional authenticated data (a file moved to another key
 * fails to open). On disk: "VXE1" | nonce (12) | ciphertext | tag (16). The sha256 the store
 * reports and checks is always of the plaintext, so digests in rows and events do not depend
 * on whether (or with which key) the store encrypts.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { BlobStoreConfigError } from "./errors.js";

const MAGIC = Buffer.from("VXE1", "ascii");
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The stored bytes of an encrypted object did not authenticate (altered, truncated, moved, or another key). */
export class BlobTamperedError extends Error {
  readonly key: string;

  constructor(key: string, options?: { cause?: unknown }) {
    super(`blob ${JSON.stringify(key)} failed authentication: its stored bytes were altered, moved from another key, or encrypted with another key`, options);
    this.name = "BlobTamperedError";
    this.key = key;
  }
}

/**
 * The 32-byte key from BLOB_ENCRYPTION_KEY (64 hex digits or base64 of 32 bytes).
 * @throws BlobStoreConfigError naming BLOB_ENCRYPTION_KEY when it is neither.
 */
export function parseBlobEncryptionKey(value: string): Buffer {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, text.includes("-") || text.includes("_") ? "base64url" : "base64");
    if (key.length === 32) return key;
  }
  throw new BlobStoreConfigError("BLOB_ENCRYPTION_KEY must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)");
}

/** A new random key, hex (what the embedded stack writes for itself). */
export function generateBlobEncryptionKey(): string {
  return randomBytes(32).toString("hex");
}

/** Encrypts plaintext for object `key`. */
export function sealBlob(encryptionKey: Buffer, key: string, plaintext: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", encryptionKey, nonce);
  cipher.setAAD(Buffer.from(key, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([MAGIC, nonce, body, cipher.getAuthTag()]);
}

/** Decrypts what sealBlob wrote for `key`. @throws BlobTamperedError when it does not authenticate. */
export function openBlob(encryptionKey: Buffer, key: string, stored: Buffer): Buffer {
  if (stored.length < MAGIC.length + NONCE_BYTES + TAG_BYTES || !stored.subarray(0, MAGIC.length).equals(MAGIC)) throw new BlobTamperedError(key);
  const nonce = stored.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
  const tag = stored.subarray(stored.length - TAG_BYTES);
  const body = stored.subarray(MAGIC.length + NONCE_BYTES, stored.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", encryptionKey, nonce);
    decipher.setAAD(Buffer.from(key, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (cause) {
    throw new BlobTamperedError(key, { cause });
  }
}
