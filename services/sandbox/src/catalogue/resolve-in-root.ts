/**
 * Symlink resolution inside an image root, as the container would see it: absolute link
 * targets start again at the image root, `..` stops at the root, and nothing ever resolves to a
 * host path outside it. Every read the catalogue makes inside an image goes through
 * `openInRoot`/`readFileInRoot`, which resolve the path here first and then open the result with
 * O_NOFOLLOW, so neither a symlinked directory nor a symlinked final component reaches a host file
 * (the emulation of openat2's RESOLVE_IN_ROOT that Node cannot call).
 */
import { constants } from "node:fs";
import { lstat, open, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

const MAX_LINKS = 40;

/** What resolveInRoot learned about one image path (a lstat), kept across calls on one tree. */
export type InRootEntry = { readonly type: "dir" | "file" | "other" } | { readonly type: "link"; readonly target: string };

/**
 * A cache of lstat/readlink results for one image root, shared by every resolveInRoot call of
 * one catalogue build (the unpacked tree does not change while it is catalogued).
 */
export type InRootCache = Map<string, InRootEntry | null>;

async function entryAt(root: string, rel: string, cache: InRootCache | undefined): Promise<InRootEntry | null> {
  const hit = cache?.get(rel);
  if (hit !== undefined) return hit;
  const st = await lstat(join(root, rel)).catch(() => undefined);
  let entry: InRootEntry | null;
  if (st === undefined) entry = null;
  else if (st.isSymbolicLink()) entry = { type: "link", target: await readlink(join(root, rel)) };
  else entry = { type: st.isDirectory() ? "dir" : st.isFile() ? "file" : "other" };
  cache?.set(rel, entry);
  return entry;
}

/**
 * Resolves an image-absolute path ("/usr/lib/x") inside root; returns the image-absolute
 * resolved path, or undefined when it does not exist or loops. Pass one cache per build to
 * share lstat results between calls. Never throws for a missing path.
 */
export async function resolveInRoot(root: string, imagePath: string, cache?: InRootCache): Promise<string | undefined> {
  let pending = imagePath.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const entry = await entryAt(root, [...done, part].join("/"), cache);
    if (entry === null) return undefined;
    if (entry.type === "link") {
      if (++hops > MAX_LINKS) return undefined;
      const targetParts = entry.target.split("/").filter((p) => p !== "" && p !== ".");
      if (entry.target.startsWith("/")) done.length = 0;
      pending = [...targetParts, ...pending];
      continue;
    }
    // A component that is neither a directory nor the last one cannot hold the rest of the path.
    if (pending.length > 0 && entry.type !== "dir") return undefined;
    done.push(part);
  }
  return `/${done.join("/")}`;
}

/** The type of an image path after resolveInRoot (undefined when it does not resolve). */
export async function resolvedTypeInRoot(
  root: string,
  imagePath: string,
  cache?: InRootCache,
): Promise<{ path: string; type: "dir" | "file" | "other" } | undefined> {
  const path = await resolveInRoot(root, imagePath, cache);
  if (path === undefined) return undefined;
  if (path === "/") return { path, type: "dir" };
  const entry = await entryAt(root, path.slice(1), cache);
  if (entry === null || entry.type === "link") return undefined;
  return { path, type: entry.type };
}

/**
 * Opens an image-absolute path for reading, resolved inside root, as a regular file only. The
 * resolved path is opened with O_NOFOLLOW|O_NONBLOCK and its fstat must be a regular file, so a
 * symlink swapped in as the final component or a FIFO/device fails instead of being followed or
 * blocking. Returns undefined when the path does not resolve to a regular file in the image.
 */
export async function openInRoot(root: string, imagePath: string, cache?: InRootCache): Promise<FileHandle | undefined> {
  const resolved = await resolveInRoot(root, imagePath, cache);
  if (resolved === undefined) return undefined;
  const fh = await open(join(root, resolved), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (fh === undefined) return undefined;
  const st = await fh.stat().catch(() => undefined);
  if (st?.isFile() !== true) {
    await fh.close();
    return undefined;
  }
  return fh;
}

/**
 * Reads an image-absolute path as UTF-8, resolved inside root (see openInRoot). Returns undefined
 * when it is not a regular file of the image; throws only for a read error on an opened file.
 */
export async function readFileInRoot(root: string, imagePath: string, cache?: InRootCache): Promise<string | undefined> {
  const fh = await openInRoot(root, imagePath, cache);
  if (fh === undefined) return undefined;
  try {
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}
