/**
 * A local S3-compatible server (`s3rver`) for tests and the embedded stack, on a free loopback
 * port with its objects in a fresh temp dir.
 *
 * s3rver does NOT check request signatures: it accepts any AWS Signature V4 request whose
 * access key id it knows (only the built-in "S3RVER"), whatever the secret, and it accepts
 * unsigned requests. Tests against it prove the S3 wire protocol, never credentials. It also
 * answers NotImplemented to bucket lifecycle, versioning, tagging and policy requests.
 */
import { createRequire } from "node:module";
import { freePort } from "./ports.js";
import { tempDir } from "./temp-dir.js";

export interface S3Server {
  readonly endPoint: "127.0.0.1";
  readonly port: number;
  readonly accessKey: string;
  readonly secretKey: string;
  /**
   * `s3://KEY:SECRET@127.0.0.1:PORT/BUCKET?ssl=false` when a bucket was given to startS3Server,
   * else the same without `/BUCKET`.
   */
  readonly url: string;
  /** The BLOB_STORE_URL form for a bucket on this server. */
  urlFor(bucket: string): string;
  /** Closes the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  /** Bucket named in `url` (not created: the S3 blob store creates its bucket). */
  readonly bucket?: string;
}

/** The s3rver constructor surface used here (the package ships no types). */
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  resetOnClose: boolean;
}) => S3rverInstance;

// s3rver is CommonJS without type declarations; load it through require and give it the
// narrow type above instead of an ambient `any` module.
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;

/** The only credentials s3rver knows (hard-coded in s3rver's dummy account). */
const ACCESS_KEY = "S3RVER";
const SECRET_KEY = "S3RVER";
const START_ATTEMPTS = 3;

/**
 * Starts s3rver silently on 127.0.0.1. Retries on a new port if another process took the free
 * port first; throws the last listen error otherwise.
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const dir = await tempDir("s3");
    const port = await freePort();
    const server = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory: dir.path,
      vhostBuckets: false,
      resetOnClose: false,
    });
    try {
      await server.run();
    } catch (error) {
      lastError = error;
      await dir.remove();
      continue;
    }
    const urlFor = (bucket: string): string => `s3://${ACCESS_KEY}:${SECRET_KEY}@127.0.0.1:${port}/${encodeURIComponent(bucket)}?ssl=false`;
    let stopping: Promise<void> | undefined;
    return {
      endPoint: "127.0.0.1",
      port,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      url: options.bucket === undefined ? `s3://${ACCESS_KEY}:${SECRET_KEY}@127.0.0.1:${port}?ssl=false` : urlFor(options.bucket),
      urlFor,
      stop(): Promise<void> {
        stopping ??= server
          .close()
          .catch(() => undefined)
          .then(() => dir.remove());
        return stopping;
      },
    };
  }
  throw new Error(`s3rver did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}
