/**
 * Turns what a user names on the command line (an OCI layout directory, an OCI archive, a
 * docker archive, or an explicit skopeo transport) into the image_ref and image_digest the
 * public API takes. The digest is the sha256 of the manifest as skopeo reads it, the same
 * bytes the sandbox verifies.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const TRANSPORTS = ["oci:", "oci-archive:", "docker-archive:", "docker://"] as const;

export interface ImageInput {
  readonly imageRef: string;
  readonly imageDigest: string;
  /**
   * The repository the image itself names, when it names one: a docker archive's RepoTags, an
   * OCI layout's `org.opencontainers.image.ref.name` when that is a full reference (a bare word
   * there is only a tag). Never the file or directory name.
   */
  readonly imageName?: string;
}

/** A full reference (`registry/repo:tag`, `team/app:1`), not a bare tag. */
function isRepositoryReference(name: string): boolean {
  return name.includes("/") && !name.includes("@");
}

async function ownImageName(imageRef: string): Promise<string | undefined> {
  const colon = imageRef.indexOf(":");
  const transport = imageRef.slice(0, colon);
  const rest = imageRef.slice(colon + 1);
  const sep = rest.indexOf(":");
  const path = sep < 0 ? rest : rest.slice(0, sep);
  const reference = sep < 0 ? "" : rest.slice(sep + 1);
  try {
    if (transport === "oci") {
      const index = JSON.parse(await readFile(join(path, "index.json"), "utf8")) as { manifests?: { annotations?: Record<string, string> }[] };
      const names = (index.manifests ?? []).map((m) => m.annotations?.["org.opencontainers.image.ref.name"] ?? "").filter((n) => n !== "");
      const chosen = reference !== "" ? names.find((n) => n === reference) : names.length === 1 ? names[0] : undefined;
      return chosen !== undefined && isRepositoryReference(chosen) ? chosen : undefined;
    }
    if (transport === "docker-archive") {
      if (reference !== "" && isRepositoryReference(reference)) return reference;
      const { stdout } = await run("tar", ["-xOf", path, "manifest.json"], { maxBuffer: 4 * 1024 * 1024 });
      const manifest = JSON.parse(stdout) as { RepoTags?: string[] | null }[];
      const tags = manifest[0]?.RepoTags ?? [];
      return tags.find((t) => t !== "");
    }
  } catch {
    return undefined;
  }
  return undefined;
}

async function tarHasMember(file: string, member: string): Promise<boolean> {
  // A tar header block is 512 bytes; the member name sits in its first 100 bytes. Reading the
  // first headers is enough to tell an OCI archive (oci-layout, index.json) from a docker one.
  const handle = await open(file, "r");
  try {
    const buf = Buffer.alloc(512);
    let offset = 0;
    for (let i = 0; i < 64; i++) {
      const { bytesRead } = await handle.read(buf, 0, 512, offset);
      if (bytesRead < 512 || buf.every((b) => b === 0)) return false;
      const name = buf.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "").replace(/^\.\//, "");
      if (name === member) return true;
      const size = Number.parseInt(buf.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
      offset += 512 + Math.ceil(size / 512) * 512;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/**
 * Resolves a user's image argument.
 * @throws Error saying which forms are accepted when the argument is none of them.
 */
export async function resolveImageInput(arg: string): Promise<ImageInput> {
  let imageRef: string;
  if (TRANSPORTS.some((t) => arg.startsWith(t))) {
    imageRef = arg;
  } else {
    const [path, tag] = splitTag(arg);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) throw new Error(`IMAGE: ${arg} does not exist (give an OCI layout directory, an OCI archive or a docker archive)`);
    const abs = resolve(path);
    if (info.isDirectory()) {
      imageRef = `oci:${abs}${tag !== "" ? `:${tag}` : ""}`;
    } else if (await tarHasMember(abs, "oci-layout")) {
      imageRef = `oci-archive:${abs}${tag !== "" ? `:${tag}` : ""}`;
    } else if (await tarHasMember(abs, "manifest.json")) {
      imageRef = `docker-archive:${abs}`;
    } else {
      throw new Error(`IMAGE: ${arg} is neither an OCI layout directory, an OCI archive nor a docker archive`);
    }
  }
  try {
    const { stdout } = await run("skopeo", ["inspect", "--raw", imageRef], { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 });
    const imageName = await ownImageName(imageRef);
    return { imageRef, imageDigest: `sha256:${createHash("sha256").update(stdout).digest("hex")}`, ...(imageName !== undefined ? { imageName } : {}) };
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString("utf8").trim() ?? String(err);
    throw new Error(`IMAGE: skopeo could not read ${imageRef}: ${stderr}`, { cause: err });
  }
}

function splitTag(arg: string): [string, string] {
  // "DIR:tag" — a colon after the last slash names a tag; paths rarely contain one.
  const slash = arg.lastIndexOf("/");
  const colon = arg.lastIndexOf(":");
  return colon > slash && colon > 0 ? [arg.slice(0, colon), arg.slice(colon + 1)] : [arg, ""];
}
