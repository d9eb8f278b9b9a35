/**
 * Ownership of an unpacked image root for a user-namespaced container: every entry's uid/gid u
 * becomes hostId + u (lchown, links never followed), so container root owns what image root
 * owned while on the host it is an unprivileged id. A marker file beside the root records the
 * shift so a second run (next attempt) does not shift twice. runc 1.1 has no idmapped mounts.
 */
import { chmod, lstat, lchown, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { IdMapping } from "./oci-config.js";
import { SandboxDriverError } from "./driver-errors.js";

/**
 * Shifts the ownership of rootfsDir into the mapping's host range (idempotent).
 * @throws SandboxDriverError when an id in the image is beyond the mapping's size.
 */
export async function shiftRootfsOwnership(rootfsDir: string, mapping: IdMapping): Promise<void> {
  await ensureTraversable(rootfsDir);
  const marker = `${rootfsDir.replace(/\/+$/, "")}.idshift`;
  const done = await readFile(marker, "utf8").catch(() => "");
  if (done.trim() === String(mapping.hostId)) return;
  const shift = async (path: string): Promise<void> => {
    const st = await lstat(path);
    if (st.uid >= mapping.size || st.gid >= mapping.size) {
      throw new SandboxDriverError(`${path} is owned by ${st.uid}:${st.gid}, outside the sandbox's ${mapping.size} mapped ids`);
    }
    await lchown(path, mapping.hostId + st.uid, mapping.hostId + st.gid);
    // lchown clears set-id bits on regular files; the sandbox runs with noNewPrivileges, so they never mattered.
    if (st.isDirectory()) for (const name of await readdir(path)) await shift(join(path, name));
  };
  await shift(rootfsDir);
  await writeFile(marker, String(mapping.hostId));
}

/**
 * Gives every ancestor of rootfsDir search permission for others (o+x, never read), since the
 * container's init, as the mapped unprivileged root, bind-mounts the root through that path.
 */
async function ensureTraversable(rootfsDir: string): Promise<void> {
  let dir = dirname(resolve(rootfsDir));
  for (;;) {
    const st = await stat(dir);
    if ((st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o001);
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}
