/**
 * Ownership of an unpacked image root for a user-namespaced container: every entry's uid/gid u
 * becomes hostId + u (lchown, links never followed), so container root owns what image root
 * owned while on the host it is an unprivileged id. A marker file beside the root records the
 * shift so a second run (next attempt) does not shift twice. runc 1.1 has no idmapped mounts.
 *
 * Each inode is shifted once, whatever number of names it has: image layers store hard links
 * (Debian's /usr/bin/perl and perl5.36.0 are one file), and a second visit would see an id already
 * in the host range. An id already inside [hostId, hostId + size) is taken as shifted (an image id
 * that large is refused anyway), so a run interrupted halfway resumes instead of failing.
 */
import { chmod, lstat, lchown, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { IdMapping } from "./oci-config.js";
import { SandboxRefusedError } from "./driver-errors.js";

/**
 * Shifts the ownership of rootfsDir into the mapping's host range (idempotent).
 * @throws SandboxRefusedError (final: the image holds it) when an id in the image is beyond the mapping's size.
 */
export async function shiftRootfsOwnership(rootfsDir: string, mapping: IdMapping): Promise<void> {
  await ensureTraversable(rootfsDir);
  const marker = `${rootfsDir.replace(/\/+$/, "")}.idshift`;
  const done = await readFile(marker, "utf8").catch(() => "");
  if (done.trim() === String(mapping.hostId)) return;
  const seen = new Set<string>();
  const inHostRange = (id: number): boolean => mapping.hostId >= mapping.size && id >= mapping.hostId && id < mapping.hostId + mapping.size;
  const shift = async (path: string): Promise<void> => {
    const st = await lstat(path, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    if (!(inHostRange(uid) && inHostRange(gid))) {
      if (uid >= mapping.size || gid >= mapping.size) {
        throw new SandboxRefusedError(`${path} is owned by ${uid}:${gid}, outside the sandbox's ${mapping.size} mapped ids`);
      }
      await lchown(path, mapping.hostId + uid, mapping.hostId + gid);
    }
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
