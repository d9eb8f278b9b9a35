/**
 * Reading an OCI image layout from disk with every blob's sha256 checked before use: the
 * index, the manifest it names (by tag when one was given), the config and the layers.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ImageBlobDigestError, ImageUnreadableError } from "./image-errors.js";

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly env: string[];
  readonly workingDir: string;
  readonly user: string;
}

export interface LayoutImage {
  readonly manifestDigest: string;
  readonly manifestBytes: Buffer;
  readonly config: ImageConfig;
  readonly layers: readonly Descriptor[];
}

function blobPath(layout: string, digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (m === null) throw new ImageUnreadableError(`unsupported or malformed digest ${digest.slice(0, 80)}`);
  return join(layout, "blobs", "sha256", m[1]!);
}

/** Reads a small blob and checks its digest. */
export async function readVerifiedBlob(layout: string, digest: string): Promise<Buffer> {
  const bytes = await readFile(blobPath(layout, digest)).catch((cause: unknown) => {
    throw new ImageUnreadableError(`blob ${digest} is missing from the layout`, { cause });
  });
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (`sha256:${actual}` !== digest) throw new ImageBlobDigestError(digest, actual);
  return bytes;
}

/** Streams a (large) blob and checks its digest; returns its path. */
export async function verifyBlobFile(layout: string, digest: string): Promise<string> {
  const path = blobPath(layout, digest);
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new ImageUnreadableError(`blob ${digest} is missing from the layout`, { cause });
  }
  const actual = hash.digest("hex");
  if (`sha256:${actual}` !== digest) throw new ImageBlobDigestError(digest, actual);
  return path;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch (cause) {
    throw new ImageUnreadableError(`${what} is not valid JSON`, { cause });
  }
}

/**
 * Opens the image a layout holds (the manifest tagged `tag`, or the only one).
 * @throws ImageUnreadableError, ImageBlobDigestError.
 */
export async function readLayoutImage(layout: string, tag: string): Promise<LayoutImage> {
  const index = parseJson<{ manifests?: Descriptor[] }>(
    await readFile(join(layout, "index.json")).catch((cause: unknown) => {
      throw new ImageUnreadableError("no index.json: not an OCI image layout", { cause });
    }),
    "index.json",
  );
  const manifests = index.manifests ?? [];
  const chosen =
    tag !== "" ? manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag) : manifests.length === 1 ? manifests[0] : undefined;
  if (chosen === undefined) {
    throw new ImageUnreadableError(tag !== "" ? `the layout has no image tagged "${tag}"` : `the layout holds ${manifests.length} images; name one with :tag`);
  }
  if (chosen.mediaType.includes("index") || chosen.mediaType.includes("manifest.list")) {
    throw new ImageUnreadableError("multi-platform image indexes are not supported yet; give a single-platform image");
  }
  const manifestBytes = await readVerifiedBlob(layout, chosen.digest);
  const manifest = parseJson<{ config?: Descriptor; layers?: Descriptor[] }>(manifestBytes, "the manifest");
  if (manifest.config === undefined || manifest.layers === undefined) throw new ImageUnreadableError("the manifest has no config or layers");
  const configJson = parseJson<{ config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string } }>(
    await readVerifiedBlob(layout, manifest.config.digest),
    "the image config",
  );
  const c = configJson.config ?? {};
  return {
    manifestDigest: chosen.digest,
    manifestBytes,
    config: { entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], env: c.Env ?? [], workingDir: c.WorkingDir ?? "", user: c.User ?? "" },
    layers: manifest.layers,
  };
}
