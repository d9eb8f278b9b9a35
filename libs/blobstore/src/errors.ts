/** The named errors every BlobStore implementation throws. */

/** No object exists under the key. */
export class BlobNotFoundError extends Error {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super(`no blob under key ${JSON.stringify(key)}`, options);
    this.name = "BlobNotFoundError";
    this.key = key;
  }
}

/** The stored bytes do not hash to the sha256 the caller recorded: changed or corrupted in storage. */
export class BlobDigestMismatchError extends Error {
  readonly key: string;
  readonly expected: string;
  readonly actual: string;
  constructor(key: string, expected: string, actual: string) {
    super(`blob ${JSON.stringify(key)} has sha256 ${actual}, expected ${expected}`);
    this.name = "BlobDigestMismatchError";
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A key (or list prefix) outside the allowed shape; see validateBlobKey. */
export class InvalidBlobKeyError extends Error {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = "InvalidBlobKeyError";
    this.key = key;
  }
}

/** BLOB_STORE_URL (or a store option) is malformed; the message names the variable. */
export class BlobStoreConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BlobStoreConfigError";
  }
}

/** The backing storage failed (I/O error, S3 error other than not-found); the cause is kept. */
export class BlobStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BlobStoreError";
  }
}
