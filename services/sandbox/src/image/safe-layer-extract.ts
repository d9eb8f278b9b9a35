/**
 * Unpacks one image layer (tar, tar+gzip) into a root directory. Hostile tarballs are the norm:
 * entries that are absolute, hold a `..` segment, would be written through a symlink, or hard
 * links to a path outside the root or not yet extracted are REFUSED (the whole image fails),
 * never silently confined. Device nodes and FIFOs are skipped (a sandbox needs none, and runc
 * provides /dev). setuid/setgid bits are dropped. OCI whiteouts (.wh.NAME, .wh..wh..opq)
 * delete inside the root only. The running total of unpacked bytes is capped.
 */
import { createReadStream } from "node:fs";
import { lstat, mkdir, open, readdir, rm, symlink, link, chmod, utimes } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { createGunzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { ImageTooLargeError, ImageUnreadableError, UnsafeLayerEntryError } from "./image-errors.js";

export interface ExtractBudget {
  /** Bytes unpacked so far across layers; updated in place. */
  used: number;
  readonly limit: number;
  entries: number;
  readonly maxEntries: number;
  /** Stops extraction at the next entry once aborted (a cancelled attempt). */
  readonly signal?: AbortSignal;
}

/** Normalises an entry name to a relative path, refusing anything that could leave the root. */
export function safeRelativePath(layer: string, name: string): string {
  const trimmed = name.replace(/^\.\//, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed === ".") return "";
  if (trimmed.startsWith("/")) throw new UnsafeLayerEntryError(layer, name, "absolute path");
  const parts = trimmed.split("/");
  if (parts.some((p) => p === "..")) throw new UnsafeLayerEntryError(layer, name, "'..' segment");
  if (parts.some((p) => p.includes("\0"))) throw new UnsafeLayerEntryError(layer, name, "NUL in name");
  return parts.filter((p) => p !== "" && p !== ".").join("/");
}

/** Refuses a path whose parent directories include a symlink (a write would follow it). */
async function assertNoSymlinkParent(root: string, rel: string, layer: string, name: string): Promise<void> {
  const parts = rel.split("/");
  let cur = root;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) return;
    if (st.isSymbolicLink()) throw new UnsafeLayerEntryError(layer, name, `parent ${posix.join(...parts.slice(0, parts.indexOf(part) + 1))} is a symlink`);
    if (!st.isDirectory()) throw new UnsafeLayerEntryError(layer, name, "parent is not a directory");
  }
}

/** Whether a symlink target, resolved lexically from the link's directory, stays inside the root. */
export function linkStaysInside(rel: string, target: string): boolean {
  // Absolute targets are interpreted inside the image root at run time (the container's /),
  // so they stay inside by construction; relative ones must not climb above the root.
  if (target.startsWith("/")) return true;
  // Walk the segments by hand: posix.normalize would clamp "/../x" to "/x" and hide the climb.
  let depth = rel.split("/").length - 1;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    depth += part === ".." ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

/**
 * Extracts a layer file into root.
 * @throws UnsafeLayerEntryError, ImageTooLargeError, ImageUnreadableError.
 */
export async function extractLayer(file: string, mediaType: string, root: string, layer: string, budget: ExtractBudget): Promise<void> {
  if (mediaType.includes("zstd")) throw new ImageUnreadableError(`layer ${layer} is zstd-compressed, which this sandbox does not unpack yet`);
  const gz = mediaType.endsWith("gzip") || mediaType.endsWith("tar.gzip") || mediaType === "application/vnd.docker.image.rootfs.diff.tar.gzip";
  const extract = tar.extract();
  const source = createReadStream(file);
  const sink = extract as unknown as NodeJS.WritableStream;
  const feeding = (gz ? pipeline(source, createGunzip(), sink) : pipeline(source, sink)).catch((err: unknown) => err);
  try {
    for await (const entry of extract) await handleEntry(entry.header, entry, root, layer, budget);
    const fed = await feeding;
    if (fed !== undefined) throw fed;
  } catch (err) {
    source.destroy();
    extract.destroy();
    await feeding;
    if (err instanceof UnsafeLayerEntryError || err instanceof ImageTooLargeError || err instanceof ImageUnreadableError) throw err;
    // An abort is the caller's cancel, not a property of the layer.
    if (budget.signal?.aborted === true) throw err;
    throw new ImageUnreadableError(`layer ${layer} is not a readable tar: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

type EntryHeader = tar.Header;

async function handleEntry(header: EntryHeader, stream: AsyncIterable<unknown>, root: string, layer: string, budget: ExtractBudget): Promise<void> {
  budget.signal?.throwIfAborted();
  budget.entries += 1;
  if (budget.entries > budget.maxEntries) throw new ImageTooLargeError(budget.limit);
  const rel = safeRelativePath(layer, header.name);
  const drain = async (): Promise<void> => {
    for await (const _ of stream) {
      // skip the body
    }
  };
  if (rel === "") return await drain();
  await assertNoSymlinkParent(root, rel, layer, header.name);
  const target = join(root, rel);
  const base = posix.basename(rel);
  if (base === ".wh..wh..opq") {
    const dir = dirname(target);
    for (const child of await readdir(dir).catch(() => [])) await rm(join(dir, child), { recursive: true, force: true });
    return await drain();
  }
  if (base.startsWith(".wh.")) {
    await rm(join(dirname(target), base.slice(4)), { recursive: true, force: true });
    return await drain();
  }
  const mode = (header.mode ?? 0o644) & 0o1777;
  switch (header.type) {
    case "directory": {
      const existing = await lstat(target).catch(() => undefined);
      if (existing !== undefined && !existing.isDirectory()) await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      await chmod(target, mode | 0o700);
      return await drain();
    }
    case "file":
    case "contiguous-file": {
      budget.used += header.size ?? 0;
      if (budget.used > budget.limit) throw new ImageTooLargeError(budget.limit);
      await mkdir(dirname(target), { recursive: true });
      await rm(target, { force: true, recursive: true });
      const fh = await open(target, "wx", mode);
      try {
        for await (const chunk of stream) await fh.write(chunk as Buffer);
      } finally {
        await fh.close();
      }
      if (header.mtime !== undefined) await utimes(target, header.mtime, header.mtime).catch(() => undefined);
      return;
    }
    case "symlink": {
      const linkname = header.linkname ?? "";
      if (!linkStaysInside(rel, linkname)) throw new UnsafeLayerEntryError(layer, header.name, `symlink to "${linkname}" leaves the image root`);
      await mkdir(dirname(target), { recursive: true });
      await rm(target, { force: true, recursive: true });
      await symlink(linkname, target);
      return await drain();
    }
    case "link": {
      const source = safeRelativePath(layer, header.linkname ?? "");
      await assertNoSymlinkParent(root, source, layer, header.name);
      const st = await lstat(join(root, source)).catch(() => undefined);
      if (st === undefined || !st.isFile())
        throw new UnsafeLayerEntryError(layer, header.name, `hard link to "${header.linkname ?? ""}", which is not a regular file already in the image`);
      await mkdir(dirname(target), { recursive: true });
      await rm(target, { force: true, recursive: true });
      await link(join(root, source), target);
      return await drain();
    }
    default:
      // Character and block devices, FIFOs and unknown types are not created.
      return await drain();
  }
}
