/**
 * The process a sandbox runs, from the image config: argv = entrypoint + cmd, the image's env
 * with the job's `environment` laid over it, the working directory, and the user as numeric
 * uid/gid. A user name is looked up in the image's own /etc/passwd and /etc/group, resolved
 * inside the image root (a hostile image's /etc/passwd may be a link to a host file).
 */
import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveInRoot } from "../catalogue/index.js";
import type { ImageConfig } from "../image/index.js";
import type { SandboxProcess } from "./sandbox-driver.js";
import { ImageProcessError } from "../errors.js";

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Builds the sandbox process.
 * @throws ImageProcessError (image_not_runnable) when the image names no command, or a user or
 * group that its /etc/passwd or /etc/group does not have.
 */
export async function workloadProcess(rootfsDir: string, image: ImageConfig, environment: Readonly<Record<string, string>> = {}): Promise<SandboxProcess> {
  const args = [...image.entrypoint, ...image.cmd];
  if (args.length === 0) throw new ImageProcessError("image_ref", "the image config has neither Entrypoint nor Cmd: nothing to run");
  const env = new Map<string, string>();
  for (const entry of [DEFAULT_PATH, ...image.env]) {
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [key, value] of Object.entries(environment)) env.set(key, value);
  const cwd = image.workingDir.startsWith("/") ? image.workingDir : "/";
  const { uid, gid } = await resolveUser(rootfsDir, image.user);
  return { args, env: [...env].map(([k, v]) => `${k}=${v}`), cwd, uid, gid };
}

async function resolveUser(rootfsDir: string, user: string): Promise<{ uid: number; gid: number }> {
  if (user.trim() === "") return { uid: 0, gid: 0 };
  const [userPart = "", groupPart] = user.split(":", 2);
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const row = (await imageFileRows(rootfsDir, "/etc/passwd")).find((r) => r[2] === userPart);
    gid = row?.[3] !== undefined && /^\d+$/.test(row[3]) ? Number(row[3]) : undefined;
  } else {
    const row = (await imageFileRows(rootfsDir, "/etc/passwd")).find((r) => r[0] === userPart);
    if (row === undefined || !/^\d+$/.test(row[2] ?? "") || !/^\d+$/.test(row[3] ?? "")) {
      throw new ImageProcessError("image_ref", `the image's user "${userPart}" is not in its /etc/passwd`);
    }
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const row = (await imageFileRows(rootfsDir, "/etc/group")).find((r) => r[0] === groupPart);
      if (row === undefined || !/^\d+$/.test(row[2] ?? ""))
        throw new ImageProcessError("image_ref", `the image's group "${groupPart}" is not in its /etc/group`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? uid };
}

/** The colon-separated rows of a small file inside the image; none when absent or not a regular file. */
async function imageFileRows(rootfsDir: string, imagePath: string): Promise<string[][]> {
  const resolved = await resolveInRoot(rootfsDir, imagePath);
  if (resolved === undefined) return [];
  const hostPath = join(rootfsDir, resolved);
  const st = await lstat(hostPath).catch(() => undefined);
  if (st === undefined || !st.isFile() || st.size > 4 * 1024 * 1024) return [];
  return (await readFile(hostPath, "utf8"))
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}
