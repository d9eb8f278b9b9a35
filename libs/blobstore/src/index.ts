/**
 * @vexxy/blobstore: the BlobStore seam and its two implementations (filesystem, S3 over minio),
 * the errors they throw, and BLOB_STORE_URL parsing.
 */
export type { BlobInfo, BlobStore, PutOptions } from "./blob-store.js";
export { validateBlobKey, validateBlobPrefix } from "./blob-key.js";
export { sha256Hex } from "./digest.js";
export { BlobDigestMismatchError, BlobNotFoundError, BlobStoreConfigError, BlobStoreError, InvalidBlobKeyError } from "./errors.js";
export { FilesystemBlobStore, type FilesystemBlobStoreOptions } from "./filesystem-blob-store.js";
export { BlobTamperedError, generateBlobEncryptionKey, parseBlobEncryptionKey } from "./blob-encryption.js";
export { EVIDENCE_PREFIX, startEvidenceSweeper, sweepExpiredEvidence } from "./evidence-sweeper.js";
export { RETENTION_RULE_ID, S3BlobStore, type RetentionStatus, type S3BlobStoreOptions } from "./s3-blob-store.js";
export { parseBlobStoreUrl, type BlobStoreLocation } from "./blob-store-url.js";
export { createBlobStore, openBlobStore, type CreateBlobStoreOptions } from "./create-blob-store.js";
export { stderrLogger, type BlobStoreLogger } from "./logger.js";
