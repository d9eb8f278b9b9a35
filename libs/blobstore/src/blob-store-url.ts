/**
 * BLOB_STORE_URL: which store to use and where.
 *   file:///abs/path                                  → FilesystemBlobStore("/abs/path")
 *   s3://KEY:SECRET@host:port/bucket?ssl=false&region=eu-west-1
 *                                                     → S3BlobStore (ssl defaults to true, the
 *                                                       port to 443 with ssl and 80 without)
 * KEY and SECRET are percent-decoded, so a secret with "/" or "@" is written %2F / %40.
 */
import { fileURLToPath } from "node:url";
import { BlobStoreConfigError } from "./errors.js";
import { S3BlobStore, type S3BlobStoreOptions } from "./s3-blob-store.js";

export type BlobStoreLocation =
  | { readonly kind: "filesystem"; readonly rootDir: string }
  | { readonly kind: "s3"; readonly options: Omit<S3BlobStoreOptions, "logger"> };

const VARIABLE = "BLOB_STORE_URL";

/**
 * Parses a BLOB_STORE_URL without touching the network or disk (config.ts calls this to fail
 * at start-up). Throws BlobStoreConfigError naming BLOB_STORE_URL — never echoing the secret.
 */
export function parseBlobStoreUrl(url: string): BlobStoreLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new BlobStoreConfigError(`${VARIABLE} is not a URL (expected file:///abs/path or s3://KEY:SECRET@host:port/bucket)`, { cause: error });
  }
  if (parsed.protocol === "file:") return parseFileUrl(parsed);
  if (parsed.protocol === "s3:") return parseS3Url(parsed);
  throw new BlobStoreConfigError(`${VARIABLE} scheme ${JSON.stringify(parsed.protocol)} is not supported (use file: or s3:)`);
}

function parseFileUrl(url: URL): BlobStoreLocation {
  if (url.host !== "") throw new BlobStoreConfigError(`${VARIABLE} file URL must have no host (file:///abs/path)`);
  if (url.search !== "" || url.hash !== "") throw new BlobStoreConfigError(`${VARIABLE} file URL takes no query or fragment`);
  const rootDir = fileURLToPath(url).replace(/\/+$/, "");
  if (rootDir === "") throw new BlobStoreConfigError(`${VARIABLE} file URL must name a directory other than /`);
  return { kind: "filesystem", rootDir };
}

function parseS3Url(url: URL): BlobStoreLocation {
  const accessKey = decode(url.username, "access key");
  const secretKey = decode(url.password, "secret key");
  if (accessKey === "" || secretKey === "") {
    throw new BlobStoreConfigError(`${VARIABLE} s3 URL must carry credentials: s3://KEY:SECRET@host:port/bucket`);
  }
  const endPoint = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (endPoint === "") throw new BlobStoreConfigError(`${VARIABLE} s3 URL has no host`);
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  if (segments.length !== 1) {
    throw new BlobStoreConfigError(`${VARIABLE} s3 URL path must be exactly the bucket name: s3://KEY:SECRET@host:port/bucket`);
  }
  const bucket = decode(segments[0] ?? "", "bucket");
  for (const name of url.searchParams.keys()) {
    if (name !== "ssl" && name !== "region")
      throw new BlobStoreConfigError(`${VARIABLE} s3 URL has unknown parameter ${JSON.stringify(name)} (allowed: ssl, region)`);
  }
  const ssl = url.searchParams.get("ssl");
  if (ssl !== null && ssl !== "true" && ssl !== "false") {
    throw new BlobStoreConfigError(`${VARIABLE} ssl parameter must be true or false, not ${JSON.stringify(ssl)}`);
  }
  const useSSL = ssl !== "false";
  const port = url.port === "" ? (useSSL ? 443 : 80) : Number(url.port);
  const region = url.searchParams.get("region");
  if (region !== null && !/^[a-z0-9-]+$/.test(region)) {
    throw new BlobStoreConfigError(`${VARIABLE} region parameter ${JSON.stringify(region)} is not a region name`);
  }
  const options: Omit<S3BlobStoreOptions, "logger"> = { endPoint, port, useSSL, accessKey, secretKey, bucket, ...(region === null ? {} : { region }) };
  // Validate bucket and port now, in config, rather than at first use.
  try {
    new S3BlobStore(options);
  } catch (error) {
    throw new BlobStoreConfigError(`${VARIABLE}: ${(error as Error).message}`, { cause: error });
  }
  return { kind: "s3", options };
}

function decode(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch (error) {
    throw new BlobStoreConfigError(`${VARIABLE} ${what} is not valid percent-encoding`, { cause: error });
  }
}
