/**
 * The object-storage seam. Large blobs (scans, SBOMs, catalogues, raw trace events, VEX
 * documents) live behind this interface; Postgres rows and events carry only a key and the
 * sha256 of the bytes. Implementations: a filesystem store (the embedded default) and an
 * S3-compatible store through the `minio` client (MinIO in production, s3rver in tests).
 */
export interface BlobInfo {
  readonly key: string;
  /** Lowercase hex sha256 of the stored bytes. */
  readonly sha256: string;
  readonly size: number;
}

export interface PutOptions {
  readonly contentType?: string;
}

export interface BlobStore {
  /** Stores bytes under key (overwriting) and returns their digest. */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<BlobInfo>;
  /** Returns the bytes under key; throws BlobNotFoundError when absent. */
  get(key: string): Promise<Buffer>;
  /**
   * Returns the bytes under key after checking them against the expected sha256; throws
   * BlobDigestMismatchError when they differ (a blob changed or was corrupted in storage).
   */
  getVerified(ref: { readonly key: string; readonly sha256: string }): Promise<Buffer>;
  /** Whether an object exists under key. */
  exists(key: string): Promise<boolean>;
  /** Removes the object under key; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Keys that start with prefix, sorted. */
  list(prefix: string): Promise<string[]>;
}
