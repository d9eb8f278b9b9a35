/**
 * The product's identity in a VEX: the analysed image as a `pkg:oci/<name>@sha256%3A<hex>` purl
 * and the name the in-toto statement's subject carries.
 *
 * The purl is built and validated by packageurl-js (the purl spec's reference library for
 * JavaScript: it lowercases oci names and refuses an oci namespace), then serialised the way
 * the purl spec's own oci examples write it: the version's ':' percent-encoded (`sha256%3A…`)
 * and `repository_url`'s '/' and ':' left as is. packageurl-js 2.x leaves the ':' bare; both forms parse
 * to the same purl, and the serialisation is checked to round-trip through packageurl-js.
 *
 * Image references are skopeo transports (`docker://`, `oci:`, `oci-archive:`,
 * `docker-archive:`): registry images get `repository_url` (Docker Hub short names expanded to
 * `docker.io/library/…` as docker does) and a `tag` qualifier when the reference names one;
 * local layouts and archives are named after their directory or file.
 */
import { basename, dirname } from "node:path";
import { PackageURL } from "packageurl-js";
import { ProductIdentityError } from "./errors.js";

export interface ProductIdentity {
  /** `pkg:oci/<name>@sha256%3A<hex>[?repository_url=…&tag=…]`. */
  readonly purl: string;
  /** in-toto subject name: the repository (`ghcr.io/org/app`) for registry images, the purl name otherwise. */
  readonly subjectName: string;
  /** The manifest digest's 64 lowercase hex characters. */
  readonly digestHex: string;
}

interface ParsedRef {
  readonly name: string;
  readonly subjectName: string;
  readonly repositoryUrl?: string;
  readonly tag?: string;
}

/** Names a layout is often stored under that say nothing about the image. */
const GENERIC_NAMES = new Set(["oci", "layout", "image", "img", "rootfs", "bundle", "archive"]);

function purlName(raw: string): string {
  const cleaned = raw
    .toLowerCase()
    .replace(/\.(tar\.gz|tgz|tar|oci)$/, "")
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "");
  return cleaned === "" ? "image" : cleaned;
}

/** Splits `repo[:tag][@digest]` (a docker reference) into repository and tag. */
function splitDockerReference(reference: string): { repository: string; tag?: string } {
  const withoutDigest = reference.split("@")[0] ?? "";
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  if (colon > slash) return { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  return { repository: withoutDigest };
}

/** Expands a docker repository the way docker does: no registry → docker.io, one segment → library/. */
function normaliseRepository(repository: string): string {
  const parts = repository.split("/");
  const first = parts[0] ?? "";
  const hasRegistry = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return repository.toLowerCase();
  return `docker.io/${parts.length === 1 ? "library/" : ""}${repository}`.toLowerCase();
}

function parseDocker(rest: string, imageRef: string): ParsedRef {
  const { repository, tag } = splitDockerReference(rest.replace(/^\/\//, ""));
  if (repository === "") throw new ProductIdentityError(`image_ref ${imageRef} names no repository`);
  const normalised = normaliseRepository(repository);
  return { name: purlName(normalised.split("/").at(-1) ?? normalised), subjectName: normalised, repositoryUrl: normalised, ...(tag !== undefined && tag !== "" ? { tag } : {}) };
}

function parseLocal(transport: string, rest: string, imageRef: string): ParsedRef {
  // skopeo splits these transports at the first ':' (paths with ':' are not supported by it).
  const colon = rest.indexOf(":");
  const path = colon < 0 ? rest : rest.slice(0, colon);
  const reference = colon < 0 ? "" : rest.slice(colon + 1);
  if (path === "") throw new ProductIdentityError(`image_ref ${imageRef} names no path`);
  if (transport === "docker-archive" && reference !== "" && !reference.startsWith("@")) {
    // docker-archive's reference is a docker name:tag; it names the image better than the file.
    const { repository, tag } = splitDockerReference(reference);
    const name = purlName(repository.split("/").at(-1) ?? repository);
    return { name, subjectName: name, ...(tag !== undefined && tag !== "" ? { tag } : {}) };
  }
  const base = basename(path.replace(/\/+$/, ""));
  const name = purlName(GENERIC_NAMES.has(purlName(base)) ? basename(dirname(path.replace(/\/+$/, ""))) : base);
  return { name, subjectName: name, ...(reference !== "" && !reference.startsWith("@") ? { tag: reference } : {}) };
}

function parseImageRef(imageRef: string): ParsedRef {
  const colon = imageRef.indexOf(":");
  const transport = colon < 0 ? "" : imageRef.slice(0, colon);
  const rest = colon < 0 ? imageRef : imageRef.slice(colon + 1);
  switch (transport) {
    case "docker":
      return parseDocker(rest, imageRef);
    case "oci":
    case "oci-archive":
    case "docker-archive":
      return parseLocal(transport, rest, imageRef);
    default:
      throw new ProductIdentityError(`image_ref ${imageRef} is not a docker://, oci:, oci-archive: or docker-archive: reference`);
  }
}

function encodeQualifierValue(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, "/").replace(/%3A/g, ":");
}

/**
 * Derives the product identity from a skopeo image reference and the verified manifest digest.
 * @throws ProductIdentityError when the digest is not `sha256:<64 lowercase hex>` or the
 *   reference has no usable transport, repository or path.
 */
export function productIdentity(imageRef: string, imageDigest: string): ProductIdentity {
  const m = /^sha256:([0-9a-f]{64})$/.exec(imageDigest);
  if (m === null) throw new ProductIdentityError(`image_digest ${JSON.stringify(imageDigest)} is not sha256:<64 lowercase hex>`);
  const hex = m[1] ?? "";
  const ref = parseImageRef(imageRef.trim());
  const qualifiers: Record<string, string> = {};
  if (ref.repositoryUrl !== undefined) qualifiers["repository_url"] = ref.repositoryUrl;
  if (ref.tag !== undefined) qualifiers["tag"] = ref.tag;
  let purl: PackageURL;
  try {
    purl = new PackageURL("oci", undefined, ref.name, `sha256:${hex}`, Object.keys(qualifiers).length > 0 ? qualifiers : undefined, undefined);
  } catch (cause) {
    throw new ProductIdentityError(`image_ref ${imageRef} gives no valid oci purl`, { cause });
  }
  const query = Object.keys(purl.qualifiers ?? {})
    .sort()
    .map((key) => `${key}=${encodeQualifierValue(purl.qualifiers?.[key] ?? "")}`)
    .join("&");
  const text = `pkg:oci/${encodeURIComponent(purl.name)}@${encodeURIComponent(purl.version ?? "")}${query === "" ? "" : `?${query}`}`;
  const back = PackageURL.fromString(text);
  if (back.name !== purl.name || back.version !== purl.version || JSON.stringify(back.qualifiers ?? {}) !== JSON.stringify(purl.qualifiers ?? {})) {
    throw new ProductIdentityError(`image_ref ${imageRef}: the oci purl ${text} does not round-trip`);
  }
  return { purl: text, subjectName: ref.subjectName, digestHex: hex };
}
