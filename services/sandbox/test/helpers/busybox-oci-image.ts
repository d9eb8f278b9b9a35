/**
 * An OCI image layout holding the busybox root as one layer, with the given Entrypoint/Cmd, for
 * service tests. Returns the skopeo reference (`oci:DIR:tag`) and the manifest digest.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestImage {
  readonly imageRef: string;
  readonly imageDigest: string;
}

function putBlob(layout: string, bytes: Buffer): { digest: string; size: number } {
  const hex = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(layout, "blobs", "sha256", hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Writes the layout under dir from rootfs. */
export function makeBusyboxOciImage(dir: string, rootfs: string, config: { cmd: string[]; env?: string[]; user?: string }): TestImage {
  const layout = join(dir, "layout");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const tarFile = join(dir, "layer.tar");
  execFileSync("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", rootfs, "-cf", tarFile, "."]);
  const layer = putBlob(layout, readFileSync(tarFile));
  const imageConfig = putBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Cmd: config.cmd, Env: config.env ?? ["PATH=/bin"], WorkingDir: "/", ...(config.user !== undefined ? { User: config.user } : {}) },
        rootfs: { type: "layers", diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = putBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...imageConfig },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
      }),
    ),
  );
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "test" } }],
    }),
  );
  return { imageRef: `oci:${layout}:test`, imageDigest: manifest.digest };
}
