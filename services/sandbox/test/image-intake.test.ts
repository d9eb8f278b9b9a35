import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { ImageBlobDigestError, ImageDigestMismatchError, ImageTooLargeError, UnsafeLayerEntryError, prepareImage } from "../src/image/index.js";

interface Entry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  body?: string;
  linkname?: string;
  mode?: number;
}

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? "file", mode: e.mode ?? 0o644, ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
    const body = e.type === undefined || e.type === "file" ? (e.body ?? "") : "";
    await new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Writes an OCI layout with one image (tag t) whose layers are the given entry lists. */
async function layout(dir: string, layers: Entry[][], config: object = { config: { Entrypoint: ["/app"], Env: ["A=1"] } }): Promise<string> {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (b: Buffer) => {
    const h = sha(b);
    writeFileSync(join(dir, "blobs", "sha256", h), b);
    return { digest: `sha256:${h}`, size: b.length };
  };
  const layerDescs = [];
  const diffIds: string[] = [];
  for (const entries of layers) {
    const raw = await tarOf(entries);
    diffIds.push(`sha256:${sha(raw)}`);
    layerDescs.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...put(gzipSync(raw)) });
  }
  const cfg = put(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds }, ...config })));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...cfg },
      layers: layerDescs,
    }),
  );
  const m = put(manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, annotations: { "org.opencontainers.image.ref.name": "t" } }],
    }),
  );
  return m.digest;
}

describe("image intake (hostile layers refused, blobs verified)", function () {
  this.timeout(60000);
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir("intake");
  });
  afterEach(async () => {
    await dir.remove();
  });

  const prep = (digest: string, extra: object = {}) =>
    prepareImage({ imageRef: `oci:${join(dir.path, "img")}:t`, expectedDigest: digest, workDir: join(dir.path, "work"), ...extra });

  it("unpacks a good image in layer order, applies whiteouts and drops setuid bits", async () => {
    const digest = await layout(join(dir.path, "img"), [
      [
        { name: "etc/", type: "directory" },
        { name: "etc/a", body: "one" },
        { name: "etc/gone", body: "x" },
        { name: "bin/su", body: "s", mode: 0o4755 },
        { name: "lib", type: "symlink", linkname: "usr/lib" },
      ],
      [{ name: "etc/a", body: "two" }, { name: "etc/.wh.gone" }],
    ]);
    const img = await prep(digest);
    assert.equal(img.manifestDigest, digest);
    assert.deepEqual(img.imageConfig.entrypoint, ["/app"]);
    assert.equal(readFileSync(join(img.rootfsDir, "etc/a"), "utf8"), "two");
    assert.equal(existsSync(join(img.rootfsDir, "etc/gone")), false);
    assert.equal(lstatSync(join(img.rootfsDir, "bin/su")).mode & 0o6000, 0);
    assert.ok(lstatSync(join(img.rootfsDir, "lib")).isSymbolicLink());
  });

  it("fails with ImageDigestMismatchError naming image_digest when the manifest digest differs", async () => {
    await layout(join(dir.path, "img"), [[{ name: "a", body: "x" }]]);
    await assert.rejects(prep(`sha256:${"0".repeat(64)}`), (e: unknown) => e instanceof ImageDigestMismatchError && /image_digest/.test((e as Error).message));
  });

  it("catches a layer blob that was altered after the manifest was written", async () => {
    const digest = await layout(join(dir.path, "img"), [[{ name: "a", body: "x" }]]);
    const manifest = JSON.parse(readFileSync(join(dir.path, "img", "blobs", "sha256", digest.slice(7)), "utf8")) as { layers: { digest: string }[] };
    writeFileSync(join(dir.path, "img", "blobs", "sha256", manifest.layers[0]!.digest.slice(7)), gzipSync(Buffer.from("tampered")));
    await assert.rejects(prep(digest), ImageBlobDigestError);
  });

  for (const [what, entries] of [
    ["an absolute path", [{ name: "/etc/passwd", body: "x" }]],
    ["a '..' segment", [{ name: "a/../../escape", body: "x" }]],
    ["a symlink that climbs out of the root", [{ name: "up", type: "symlink", linkname: "../../../tmp" }]],
    [
      "a write through an extracted symlink",
      [
        { name: "d", type: "symlink", linkname: "/tmp" },
        { name: "d/owned", body: "x" },
      ],
    ],
    ["a hard link to a file outside the image", [{ name: "h", type: "link", linkname: "../../etc/passwd" }]],
    ["a hard link to a file not yet extracted", [{ name: "h", type: "link", linkname: "missing" }]],
  ] as [string, Entry[]][]) {
    it(`refuses ${what} with UnsafeLayerEntryError and writes nothing outside the target`, async () => {
      const digest = await layout(join(dir.path, "img"), [entries]);
      const before = execFileSync("ls", ["/tmp"]).toString();
      await assert.rejects(prep(digest), (e: unknown) => e instanceof UnsafeLayerEntryError && /image_ref/.test((e as Error).message));
      assert.equal(existsSync("/tmp/owned"), false);
      assert.equal(execFileSync("ls", ["/tmp"]).toString().split("\n").includes("escape"), before.split("\n").includes("escape"));
    });
  }

  it("stops at the unpacked size cap with ImageTooLargeError", async () => {
    const digest = await layout(join(dir.path, "img"), [[{ name: "big", body: "x".repeat(10000) }]]);
    await assert.rejects(prep(digest, { maxUnpackedBytes: 5000 }), ImageTooLargeError);
  });

  it("takes the same image as an oci-archive and a docker-archive made by skopeo", async () => {
    const digest = await layout(join(dir.path, "img"), [[{ name: "etc/a", body: "arch" }]]);
    const ociArchive = join(dir.path, "img.oci.tar");
    execFileSync("skopeo", ["copy", "--quiet", `oci:${join(dir.path, "img")}:t`, `oci-archive:${ociArchive}:t`]);
    const fromOci = await prepareImage({ imageRef: `oci-archive:${ociArchive}:t`, expectedDigest: digest, workDir: join(dir.path, "w1") });
    assert.equal(readFileSync(join(fromOci.rootfsDir, "etc/a"), "utf8"), "arch");
    const dockerArchive = join(dir.path, "img.docker.tar");
    execFileSync("skopeo", ["copy", "--quiet", `oci:${join(dir.path, "img")}:t`, `docker-archive:${dockerArchive}:img:t`]);
    const raw = execFileSync("skopeo", ["inspect", "--raw", `docker-archive:${dockerArchive}`]);
    const dockerDigest = `sha256:${sha(raw)}`;
    const fromDocker = await prepareImage({ imageRef: `docker-archive:${dockerArchive}`, expectedDigest: dockerDigest, workDir: join(dir.path, "w2") });
    assert.equal(readFileSync(join(fromDocker.rootfsDir, "etc/a"), "utf8"), "arch");
    await assert.rejects(
      prepareImage({ imageRef: `docker-archive:${dockerArchive}`, expectedDigest: digest, workDir: join(dir.path, "w3") }),
      ImageDigestMismatchError,
    );
  });
});
