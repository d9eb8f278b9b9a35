/** The composition-root helpers: BLOB_STORE_URL in, a BlobStore out. */
import type { BlobStore } from "./blob-store.js";
import { parseBlobStoreUrl, type BlobStoreLocation } from "./blob-store-url.js";
import { FilesystemBlobStore } from "./filesystem-blob-store.js";
import { parseBlobEncryptionKey } from "./blob-encryption.js";
import type { BlobStoreLogger } from "./logger.js";
import { S3BlobStore } from "./s3-blob-store.js";

export interface CreateBlobStoreOptions {
  readonly logger?: BlobStoreLogger;
  /** BLOB_ENCRYPTION_KEY (64 hex digits or base64 of 32 bytes): the filesystem store encrypts with it (S3 uses server-side encryption). */
  readonly encryptionKey?: string;
}

/**
 * Builds the store a BLOB_STORE_URL (string) or an already parsed location names, without
 * touching the network: an S3 store ensures its bucket and retention rule on first use. Throws
 * BlobStoreConfigError (naming BLOB_STORE_URL) for a bad URL, or BLOB_ENCRYPTION_KEY for a bad key.
 */
export function createBlobStore(url: string | BlobStoreLocation, options: CreateBlobStoreOptions = {}): BlobStore {
  const location = typeof url === "string" ? parseBlobStoreUrl(url) : url;
  if (location.kind === "filesystem") {
    return new FilesystemBlobStore(
      location.rootDir,
      options.encryptionKey !== undefined ? { encryptionKey: parseBlobEncryptionKey(options.encryptionKey) } : {},
    );
  }
  return new S3BlobStore({ ...location.options, ...(options.logger === undefined ? {} : { logger: options.logger }) });
}

/**
 * Like createBlobStore, but for S3 waits until the bucket and its retention rule are ensured,
 * so a bad endpoint or credentials fail at start-up. Throws BlobStoreConfigError for a bad URL
 * and BlobStoreError when the S3 server cannot be prepared.
 */
export async function openBlobStore(url: string | BlobStoreLocation, options: CreateBlobStoreOptions = {}): Promise<BlobStore> {
  const store = createBlobStore(url, options);
  if (store instanceof S3BlobStore) await store.ready();
  return store;
}
