/**
 * Image intake: from a skopeo reference to a verified, safely unpacked root filesystem.
 *
 * Identity: the image's digest is the sha256 of its manifest as skopeo reads it from the
 * reference (`skopeo inspect --raw`), the bytes the CLI digests too; it must equal
 * image_digest before anything is unpacked. oci: layouts are read in place; oci-archive: is
 * copied to a layout with --preserve-digests (the same manifest bytes); docker-archive: has
 * no stored manifest, so skopeo's generated one is the identity, and the converted OCI layout's
 * blobs are checked in their turn. Every blob's sha256 is checked before it is used.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ImageDigestMismatchError, ImageUnreadableError } from "./image-errors.js";
import { readLayoutImage, verifyBlobFile, type Descriptor, type ImageConfig } from "./oci-layout.js";
import { extractLayer, type ExtractBudget } from "./safe-layer-extract.js";

const run = promisify(execFile);

export const DEFAULT_MAX_UNPACKED_BYTES = 5 * 1024 * 1024 * 1024;
const MAX_ENTRIES = 2_000_000;

export interface PrepareImageOptions {
  readonly imageRef: string;
  readonly expectedDigest: string;
  readonly workDir: string;
  readonly maxUnpackedBytes?: number;
  readonly skopeoPath?: string;
  /** Stops intake early: skopeo is killed, extraction stops at the next entry, and the abort's reason is thrown. */
  readonly signal?: AbortSignal;
}

export interface PreparedImage {
  readonly rootfsDir: string;
  readonly manifestDigest: string;
  readonly imageConfig: ImageConfig;
  readonly layers: readonly Descriptor[];
  readonly unpackedBytes: number;
}

function splitTag(path: string): [string, string] {
  const slash = path.lastIndexOf("/");
  const colon = path.lastIndexOf(":");
  return colon > slash ? [path.slice(0, colon), path.slice(colon + 1)] : [path, ""];
}

async function skopeo(bin: string, args: string[], signal: AbortSignal | undefined): Promise<Buffer> {
  try {
    const { stdout } = await run(bin, args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024, ...(signal !== undefined ? { signal } : {}) });
    return stdout;
  } catch (err) {
    // Killed by the caller's abort: that is a cancel, not an unreadable image.
    signal?.throwIfAborted();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString("utf8").trim() ?? String(err);
    throw new ImageUnreadableError(`skopeo could not read the image: ${stderr.slice(0, 400)}`, { cause: err });
  }
}

/**
 * Verifies and unpacks the image into workDir/rootfs.
 * @throws ImageIntakeError subclasses naming the field (image_ref or image_digest); the
 * signal's reason once options.signal is aborted (what was unpacked stays for the caller to remove).
 */
export async function prepareImage(options: PrepareImageOptions): Promise<PreparedImage> {
  const bin = options.skopeoPath ?? "skopeo";
  const ref = options.imageRef;
  if (!/^(oci|oci-archive|docker-archive):/.test(ref)) {
    throw new ImageUnreadableError(
      `the local sandbox takes oci:, oci-archive: or docker-archive: references (got "${ref.slice(0, 80)}"); registry pulls come with the registry intake`,
    );
  }
  options.signal?.throwIfAborted();
  const raw = await skopeo(bin, ["inspect", "--raw", ref], options.signal);
  const digest = `sha256:${createHash("sha256").update(raw).digest("hex")}`;
  if (digest !== options.expectedDigest) throw new ImageDigestMismatchError(options.expectedDigest, digest);

  let layout: string;
  let tag: string;
  if (ref.startsWith("oci:")) {
    [layout, tag] = splitTag(ref.slice("oci:".length));
  } else {
    layout = join(options.workDir, "layout");
    tag = "image";
    await rm(layout, { recursive: true, force: true });
    await mkdir(options.workDir, { recursive: true });
    const preserve = ref.startsWith("oci-archive:") ? ["--preserve-digests"] : [];
    await skopeo(bin, ["copy", "--quiet", ...preserve, ref, `oci:${layout}:${tag}`], options.signal);
  }
  const image = await readLayoutImage(layout, tag);
  if (ref.startsWith("oci:") || ref.startsWith("oci-archive:")) {
    if (image.manifestDigest !== digest) throw new ImageDigestMismatchError(options.expectedDigest, image.manifestDigest);
  }
  const rootfsDir = join(options.workDir, "rootfs");
  await rm(rootfsDir, { recursive: true, force: true });
  await mkdir(rootfsDir, { recursive: true });
  const budget: ExtractBudget = {
    used: 0,
    limit: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    entries: 0,
    maxEntries: MAX_ENTRIES,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  };
  for (const layer of image.layers) {
    options.signal?.throwIfAborted();
    const file = await verifyBlobFile(layout, layer.digest);
    await extractLayer(file, layer.mediaType, rootfsDir, layer.digest, budget);
  }
  if (!ref.startsWith("oci:")) await rm(layout, { recursive: true, force: true });
  return { rootfsDir, manifestDigest: digest, imageConfig: image.config, layers: image.layers, unpackedBytes: budget.used };
}
