/**
 * The product's identity in a VEX: the image as a `pkg:oci/<name>@sha256%3A<hex>` purl (the
 * version's ':' percent-encoded, as the purl spec's examples write it), with repository_url
 * when the image came from a registry and tag when the reference named one; and the name the
 * in-toto statement's subject carries.
 */
import { basename, dirname } from "node:path";

export interface ProductIdentity {
  readonly purl: string;
  /** in-toto subject name: the repository for registry images, the purl name otherwise. */
  readonly subjectName: string;
  readonly digestHex: string;
}

const GENERIC_LAYOUT_NAMES = new Set(["oci", "layout", "image", "img"]);

function purlName(raw: string): string {
  const cleaned = raw.toLowerCase().replace(/\.(tar|oci|tgz|tar\.gz)$/g, "").replace(/[^a-z0-9._-]/g, "-");
  return cleaned === "" ? "image" : cleaned;
}

function splitTag(ref: string): [string, string] {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, ""];
}

/**
 * Derives the product identity from a skopeo image reference and the verified manifest digest.
 * @throws Error when the digest is not sha256:<64 hex>.
 */
export function productIdentity(imageRef: string, imageDigest: string): ProductIdentity {
  const m = /^sha256:([0-9a-f]{64})$/.exec(imageDigest);
  if (m === null) throw new Error(`image_digest is not sha256:<64 hex>: ${imageDigest}`);
  const hex = m[1]!;
  const qualifiers: [string, string][] = [];
  let name: string;
  let subjectName: string;
  if (imageRef.startsWith("docker://")) {
    const repoWithRef = imageRef.slice("docker://".length).split("@")[0]!;
    const [repo, tag] = splitTag(repoWithRef);
    name = purlName(repo.split("/").at(-1) ?? repo);
    subjectName = repo;
    qualifiers.push(["repository_url", repo]);
    if (tag !== "") qualifiers.push(["tag", tag]);
  } else {
    const [path, tag] = splitTag(imageRef.replace(/^(oci|oci-archive|docker-archive):/, ""));
    const base = basename(path);
    name = purlName(GENERIC_LAYOUT_NAMES.has(base.toLowerCase()) ? basename(dirname(path)) : base);
    subjectName = name;
    if (tag !== "") qualifiers.push(["tag", tag]);
  }
  const query = qualifiers
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/g, "/")}`)
    .join("&");
  return { purl: `pkg:oci/${name}@sha256%3A${hex}${query !== "" ? `?${query}` : ""}`, subjectName, digestHex: hex };
}
