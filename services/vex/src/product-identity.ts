/**
 * The product's identity in a VEX: the analysed image named the way Grype and Trivy name it when
 * they scan it, pinned by the manifest digest.
 *
 * The name is the image's real repository: the request's `image_name` (`REPOSITORY[:TAG]`), else
 * a `docker://` reference, else the reference a local image carries in its own transport string
 * (`docker-archive:FILE:REPO:TAG`, or an OCI layout's `org.opencontainers.image.ref.name` when it
 * is a full reference such as `ghcr.io/team/app:1.0`). A layout's bare tag (`oci:DIR:demo`) and a
 * file or directory name are never a repository; with no repository the identity cannot be
 * built, because no scanner would match a name we made up.
 *
 * Products, all `pkg:oci/<last path component>@sha256%3A<hex>` (the scanners compare purls after
 * decoding, so the spec's percent-encoded ':' matches their bare one):
 * - without qualifiers: go-vex's PurlMatches lets a pattern without qualifiers match any purl of
 *   that name and digest, so this one alone matches Grype's and Trivy's registry scans;
 * - `repository_url=<registry>/<repository>`: Trivy's form (go-containerregistry's
 *   Repository.Name(), the image name included);
 * - `repository_url=<registry>/<repository without its last component>`: Grype's form (it trims
 *   the image name), Docker Hub spelled `index.docker.io` as both tools spell it.
 * - only with `tag_identifiers`: `pkg:oci/<name>?tag=<tag>` (and with the repository as written,
 *   when it differs): the identifiers Grype builds from an image's tags, the only ones it has for
 *   a local layout or archive (no repo digest). A tag is not pinned to this digest: a rebuilt
 *   image under the same tag would inherit these claims, so this is an explicit opt-in.
 */
import { ProductIdentityError } from "./errors.js";
import { parseDockerReference, repositoryName, type DockerReference } from "./conformance/docker-reference.js";
import { formatPurl } from "./conformance/purl.js";

/** What the identity is derived from (the job's fields). */
export interface ImageNaming {
  readonly imageRef: string;
  readonly imageDigest: string;
  /** `REPOSITORY[:TAG]` as the image is (or will be) pushed; empty: taken from image_ref. */
  readonly imageName?: string;
  /** Also identify the product by tag (for scans of a local layout or archive). */
  readonly tagIdentifiers?: boolean;
}

export interface ProductIdentity {
  /** The qualifier-free `pkg:oci/<name>@sha256%3A<hex>`. */
  readonly purl: string;
  /** Every product purl a statement lists, `purl` first. */
  readonly products: readonly string[];
  /** The registry forms (digest-pinned) among `products`. */
  readonly digestProducts: readonly string[];
  /** The tag forms among `products` (empty unless opted in). */
  readonly tagProducts: readonly string[];
  /** in-toto subject name: the repository (`ghcr.io/org/app`, `docker.io/library/debian`). */
  readonly subjectName: string;
  /** The manifest digest's 64 lowercase hex characters. */
  readonly digestHex: string;
  /** The parsed repository reference (registry, repository, tag). */
  readonly reference: DockerReference;
  /** Where the name came from: "image_name", "image_ref". */
  readonly nameSource: "image_name" | "image_ref";
}

/** The reference a skopeo image_ref itself carries, if it names a repository. */
function referenceInImageRef(imageRef: string): { ref?: DockerReference; tag?: string } {
  const colon = imageRef.indexOf(":");
  const transport = colon < 0 ? "" : imageRef.slice(0, colon);
  const rest = colon < 0 ? "" : imageRef.slice(colon + 1);
  if (transport === "docker") {
    const ref = parseDockerReference(rest.replace(/^\/\//, ""));
    return ref === undefined ? {} : { ref };
  }
  if (transport === "oci" || transport === "oci-archive" || transport === "docker-archive") {
    // skopeo splits these at the first ':' after the path.
    const sep = rest.indexOf(":");
    const reference = sep < 0 ? "" : rest.slice(sep + 1);
    if (reference === "" || reference.startsWith("@")) return {};
    if (transport !== "docker-archive" && !reference.includes("/")) {
      // An OCI ref.name that is a bare word is a tag, not a repository.
      return /^[\w][\w.-]{0,127}$/.test(reference) ? { tag: reference } : {};
    }
    const ref = parseDockerReference(reference);
    return ref === undefined ? {} : { ref };
  }
  return {};
}

/**
 * Derives the product identity.
 * @throws ProductIdentityError when the digest is not `sha256:<64 lowercase hex>`, image_name is
 *   not a docker reference, or no repository name is known (the message says how to give one).
 */
export function productIdentity(naming: ImageNaming): ProductIdentity {
  const m = /^sha256:([0-9a-f]{64})$/.exec(naming.imageDigest);
  if (m === null) throw new ProductIdentityError(`image_digest ${JSON.stringify(naming.imageDigest)} is not sha256:<64 lowercase hex>`);
  const hex = m[1] ?? "";
  const fromRef = referenceInImageRef(naming.imageRef.trim());
  const given = (naming.imageName ?? "").trim();
  let reference: DockerReference | undefined;
  let nameSource: ProductIdentity["nameSource"] = "image_ref";
  if (given !== "") {
    reference = parseDockerReference(given);
    if (reference === undefined || reference.digest !== undefined) {
      throw new ProductIdentityError(`image_name ${JSON.stringify(given.slice(0, 200))} is not a docker repository reference REPOSITORY[:TAG]`);
    }
    nameSource = "image_name";
  } else {
    reference = fromRef.ref;
  }
  if (reference === undefined) {
    throw new ProductIdentityError(
      `image_ref ${naming.imageRef.slice(0, 200)} names no repository and no image_name was given: scanners match a VEX by the image's repository name and digest, so give image_name (vexxy analyze --image-name REPOSITORY[:TAG])`,
      { reason: "no_image_name" },
    );
  }
  const tag = reference.tag ?? fromRef.ref?.tag ?? fromRef.tag;
  const name = repositoryName(reference);
  const version = `sha256:${hex}`;
  const full = `${reference.registry}/${reference.repository}`;
  const parent = full.slice(0, full.length - name.length - 1);
  const digestProducts = [
    formatPurl({ type: "oci", name, version }),
    formatPurl({ type: "oci", name, version, qualifiers: { repository_url: full } }),
    formatPurl({ type: "oci", name, version, qualifiers: { repository_url: parent } }),
  ];
  const tagProducts: string[] = [];
  if (naming.tagIdentifiers === true && tag !== undefined) {
    tagProducts.push(formatPurl({ type: "oci", name, qualifiers: { tag } }));
    const typed = given !== "" ? given.replace(/:[\w][\w.-]*$/, "") : "";
    if (typed !== "" && typed !== name) tagProducts.push(formatPurl({ type: "oci", name: typed, qualifiers: { tag } }));
  }
  const subjectRegistry = reference.registry === "index.docker.io" ? "docker.io" : reference.registry;
  return {
    purl: digestProducts[0] ?? "",
    products: [...digestProducts, ...tagProducts],
    digestProducts,
    tagProducts,
    subjectName: `${subjectRegistry}/${reference.repository}`,
    digestHex: hex,
    reference: { ...reference, ...(tag !== undefined ? { tag } : {}) },
    nameSource,
  };
}
