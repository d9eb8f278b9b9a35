/**
 * The S3-compatible BlobStore over the `minio` client (MinIO in production, s3rver in tests).
 * Before the first operation it ensures the bucket exists and sets the evidence-retention
 * lifecycle rule (objects expire after 90 days). A server that answers NotImplemented to the
 * lifecycle request (s3rver does) gets a clear warning and `retention.state === "unsupported"`;
 * any other refusal fails `ready()` and every operation, because evidence that never expires is
 * a compliance bug, not a detail. The sha256 of each object is stored as user metadata
 * (`x-amz-meta-sha256`) so that operators can check objects without the database. Every put
 * requests server-side encryption (`x-amz-server-side-encryption: AES256`).
 */
import { Client, type LifecycleConfig } from "minio";
import type { Readable } from "node:stream";
import type { BlobInfo, BlobStore, PutOptions } from "./blob-store.js";
import { validateBlobKey, validateBlobPrefix } from "./blob-key.js";
import { sha256Hex } from "./digest.js";
import { BlobDigestMismatchError, BlobNotFoundError, BlobStoreConfigError, BlobStoreError } from "./errors.js";
import { stderrLogger, type BlobStoreLogger } from "./logger.js";

export interface S3BlobStoreOptions {
  readonly endPoint: string;
  readonly port: number;
  readonly useSSL: boolean;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly bucket: string;
  /** Defaults to us-east-1; given explicitly so the client never asks the server for it. */
  readonly region?: string;
  /** Days after which the lifecycle rule expires objects; defaults to 90 (evidence retention). */
  readonly retentionDays?: number;
  readonly logger?: BlobStoreLogger;
}

/** Whether the bucket's expiry rule is in force. */
export interface RetentionStatus {
  /** "pending" until ready() ran; "unsupported" when the server answered NotImplemented. */
  readonly state: "pending" | "applied" | "unsupported";
  readonly days: number;
  readonly detail?: string;
}

/** The id of the lifecycle rule this store owns in its bucket. */
export const RETENTION_RULE_ID = "vexxy-evidence-retention";
const DEFAULT_RETENTION_DAYS = 90;
const DEFAULT_REGION = "us-east-1";
const SHA256_METADATA = "sha256";
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  private readonly client: Client;
  private readonly region: string;
  private readonly retentionDays: number;
  private readonly logger: BlobStoreLogger;
  private readiness: Promise<void> | undefined;
  private retentionStatus: RetentionStatus;

  /** Builds the client (no network yet); throws BlobStoreConfigError for a bad bucket name or port. */
  constructor(options: S3BlobStoreOptions) {
    if (!BUCKET_NAME.test(options.bucket)) {
      throw new BlobStoreConfigError(`S3 bucket ${JSON.stringify(options.bucket)} is not a valid bucket name`);
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new BlobStoreConfigError(`S3 port ${options.port} is not a TCP port`);
    }
    this.bucket = options.bucket;
    this.region = options.region ?? DEFAULT_REGION;
    this.retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
    this.logger = options.logger ?? stderrLogger;
    this.retentionStatus = { state: "pending", days: this.retentionDays };
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: this.region,
      pathStyle: true,
    });
  }

  /** The lifecycle rule's state as last observed by ready(). */
  get retention(): RetentionStatus {
    return this.retentionStatus;
  }

  /**
   * Ensures the bucket and its retention rule, once (a failed attempt is retried by the next
   * call). Throws BlobStoreError when the server is unreachable or refuses either step for any
   * reason other than NotImplemented lifecycle support.
   */
  ready(): Promise<void> {
    this.readiness ??= this.prepare().catch((error: unknown) => {
      this.readiness = undefined;
      throw error;
    });
    return this.readiness;
  }

  /** Stores body under key with its sha256 as metadata; throws InvalidBlobKeyError or BlobStoreError. */
  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<BlobInfo> {
    validateBlobKey(key);
    await this.ready();
    const sha256 = sha256Hex(body);
    const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      await this.client.putObject(this.bucket, key, buffer, buffer.byteLength, {
        "Content-Type": options?.contentType ?? "application/octet-stream",
        [SHA256_METADATA]: sha256,
        // Encryption at rest with S3-managed keys, asked for on every object (a bucket default
        // may be missing); a server that ignores it (s3rver does) stores the object unencrypted.
        "x-amz-server-side-encryption": "AES256",
      });
    } catch (error) {
      throw new BlobStoreError(`could not write blob ${JSON.stringify(key)} to bucket ${this.bucket}`, { cause: error });
    }
    return { key, sha256, size: body.byteLength };
  }

  /** Reads the object under key; throws BlobNotFoundError, InvalidBlobKeyError or BlobStoreError. */
  async get(key: string): Promise<Buffer> {
    validateBlobKey(key);
    await this.ready();
    try {
      return await readAll(await this.client.getObject(this.bucket, key));
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(key, { cause: error });
      throw new BlobStoreError(`could not read blob ${JSON.stringify(key)} from bucket ${this.bucket}`, { cause: error });
    }
  }

  /** Reads the object under key and checks its bytes' sha256; throws BlobDigestMismatchError when they differ. */
  async getVerified(ref: { readonly key: string; readonly sha256: string }): Promise<Buffer> {
    const bytes = await this.get(ref.key);
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) throw new BlobDigestMismatchError(ref.key, ref.sha256, actual);
    return bytes;
  }

  /** Whether an object exists under key; throws InvalidBlobKeyError or BlobStoreError. */
  async exists(key: string): Promise<boolean> {
    validateBlobKey(key);
    await this.ready();
    try {
      await this.client.statObject(this.bucket, key);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw new BlobStoreError(`could not stat blob ${JSON.stringify(key)} in bucket ${this.bucket}`, { cause: error });
    }
  }

  /** Removes the object under key, if any; throws InvalidBlobKeyError or BlobStoreError. */
  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    await this.ready();
    try {
      await this.client.removeObject(this.bucket, key);
    } catch (error) {
      if (isNotFound(error)) return;
      throw new BlobStoreError(`could not delete blob ${JSON.stringify(key)} from bucket ${this.bucket}`, { cause: error });
    }
  }

  /** Keys starting with prefix, sorted; throws InvalidBlobKeyError or BlobStoreError. */
  async list(prefix: string): Promise<string[]> {
    validateBlobPrefix(prefix);
    await this.ready();
    const keys: string[] = [];
    try {
      const stream = this.client.listObjectsV2(this.bucket, prefix, true);
      for await (const item of stream as AsyncIterable<{ name?: string }>) {
        if (item.name !== undefined) keys.push(item.name);
      }
    } catch (error) {
      throw new BlobStoreError(`could not list ${JSON.stringify(prefix)} in bucket ${this.bucket}`, { cause: error });
    }
    return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private async prepare(): Promise<void> {
    await this.ensureBucket();
    await this.ensureRetention();
  }

  private async ensureBucket(): Promise<void> {
    try {
      if (await this.client.bucketExists(this.bucket)) return;
      await this.client.makeBucket(this.bucket, this.region);
    } catch (error) {
      // Another process may have created it between the check and the create.
      const code = errorCode(error);
      if (code === "BucketAlreadyOwnedByYou" || code === "BucketAlreadyExists") return;
      throw new BlobStoreError(`could not ensure bucket ${this.bucket}`, { cause: error });
    }
  }

  private async ensureRetention(): Promise<void> {
    const rule: LifecycleConfig = {
      Rule: [
        {
          ID: RETENTION_RULE_ID,
          Status: "Enabled",
          Filter: { Prefix: "" },
          Expiration: { Days: this.retentionDays },
        },
      ],
    };
    try {
      await this.client.setBucketLifecycle(this.bucket, rule);
      this.retentionStatus = { state: "applied", days: this.retentionDays };
    } catch (error) {
      if (errorCode(error) !== "NotImplemented") {
        throw new BlobStoreError(`could not set the ${this.retentionDays}-day lifecycle rule on bucket ${this.bucket}`, { cause: error });
      }
      const detail = `the S3 server does not implement bucket lifecycle rules: objects in bucket ${this.bucket} will NOT expire after ${this.retentionDays} days; configure retention on the server`;
      this.retentionStatus = { state: "unsupported", days: this.retentionDays, detail };
      this.logger.warn(detail, { bucket: this.bucket, retentionDays: this.retentionDays });
    }
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === "NoSuchKey" || code === "NotFound";
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
