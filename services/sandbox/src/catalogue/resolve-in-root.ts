/**
 * Symlink resolution inside an image root, as the container would see it: absolute link
 * targets start again at the image root, `..` stops at the root, and nothing ever resolves to a
 * host path outside it.
 */
import { lstat, readlink } from "node:fs/promises";
import { join } from "node:path";

const MAX_LINKS = 40;

/**
 * Resolves an image-absolute path ("/usr/lib/x") inside root; returns the image-absolute
 * resolved path, or undefined when it does not exist or loops.
 */
export async function resolveInRoot(root: string, imagePath: string): Promise<string | undefined> {
  let pending = imagePath.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = [...done, part];
    const st = await lstat(join(root, ...candidate)).catch(() => undefined);
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > MAX_LINKS) return undefined;
      const target = await readlink(join(root, ...candidate));
      const targetParts = target.split("/").filter((p) => p !== "" && p !== ".");
      if (target.startsWith("/")) done.length = 0;
      pending = [...targetParts, ...pending];
      continue;
    }
    done.push(part);
  }
  return `/${done.join("/")}`;
}
