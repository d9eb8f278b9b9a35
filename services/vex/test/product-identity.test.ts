import assert from "node:assert/strict";
import { PackageURL } from "packageurl-js";
import { ProductIdentityError, productIdentity } from "../src/lib.js";
import { DIGEST, DIGEST_HEX } from "./helpers.js";

const P = `pkg:oci/app@sha256%3A${DIGEST_HEX}`;

describe("product identity (the image's pkg:oci purls)", () => {
  it("names the product from image_name, pinned by the digest, in the qualifier-free, Trivy (repository_url with the name) and Grype (without it) forms", () => {
    const id = productIdentity({ imageRef: "oci:/srv/images/whatever-dir:demo", imageDigest: DIGEST, imageName: "ghcr.io/team/app:1.2" });
    assert.equal(id.purl, P);
    assert.deepEqual(id.products, [P, `${P}?repository_url=ghcr.io/team/app`, `${P}?repository_url=ghcr.io/team`]);
    assert.deepEqual(id.tagProducts, []);
    assert.equal(id.subjectName, "ghcr.io/team/app");
    assert.equal(id.reference.tag, "1.2");
    assert.equal(id.nameSource, "image_name");
    assert.equal(id.digestHex, DIGEST_HEX);
  });

  it("never names the product after a file or directory: a layout or archive with only a bare tag and no image_name is refused with reason no_image_name", () => {
    for (const imageRef of ["oci:/srv/images/demo-image:demo", "oci-archive:/tmp/curlapp.oci", "docker-archive:/tmp/curlapp.docker", "oci:/work/app/oci"]) {
      assert.throws(
        () => productIdentity({ imageRef, imageDigest: DIGEST }),
        (e: unknown) => e instanceof ProductIdentityError && e.reason === "no_image_name" && /--image-name/.test(e.message),
        imageRef,
      );
    }
  });

  it("takes the repository a local image carries in its transport: docker-archive's name:tag and an OCI ref.name that is a full reference", () => {
    assert.equal(productIdentity({ imageRef: "docker-archive:/tmp/save.tar:team/curlapp:1.0", imageDigest: DIGEST }).subjectName, "docker.io/team/curlapp");
    const oci = productIdentity({ imageRef: "oci:/tmp/layout:registry.example.com/vexxy/demo:demo", imageDigest: DIGEST });
    assert.equal(oci.subjectName, "registry.example.com/vexxy/demo");
    assert.equal(oci.reference.tag, "demo");
  });

  it("takes a bare OCI ref.name as the tag of the repository image_name gives", () => {
    const id = productIdentity({ imageRef: "oci:/x/layout:v3", imageDigest: DIGEST, imageName: "ghcr.io/team/app", tagIdentifiers: true });
    assert.equal(id.reference.tag, "v3");
    assert.deepEqual(id.tagProducts, ["pkg:oci/app?tag=v3", "pkg:oci/ghcr.io%2Fteam%2Fapp?tag=v3"]);
  });

  it("writes tag identifiers only when opted in, and after the digest-pinned ones", () => {
    const id = productIdentity({ imageRef: "oci:/x/l:demo", imageDigest: DIGEST, imageName: "registry.example.com/vexxy/demo:demo", tagIdentifiers: true });
    assert.deepEqual(id.products.slice(3), ["pkg:oci/demo?tag=demo", "pkg:oci/registry.example.com%2Fvexxy%2Fdemo?tag=demo"]);
    assert.equal(productIdentity({ imageRef: "oci:/x/l:demo", imageDigest: DIGEST, imageName: "registry.example.com/vexxy/demo:demo" }).products.length, 3);
  });

  it("expands Docker Hub short names as go-containerregistry does (index.docker.io, library/), keeping docker.io in the in-toto subject", () => {
    const id = productIdentity({ imageRef: `docker://debian@${DIGEST}`, imageDigest: DIGEST });
    assert.equal(id.subjectName, "docker.io/library/debian");
    assert.deepEqual(id.products.slice(1), [
      `pkg:oci/debian@sha256%3A${DIGEST_HEX}?repository_url=index.docker.io/library/debian`,
      `pkg:oci/debian@sha256%3A${DIGEST_HEX}?repository_url=index.docker.io/library`,
    ]);
  });

  it("produces purls that packageurl-js parses back to type oci, the name and the sha256 version", () => {
    for (const imageName of ["ghcr.io/Example/App:Latest".toLowerCase(), "localhost:5000/team/api", "nginx"]) {
      const parsed = PackageURL.fromString(productIdentity({ imageRef: "oci:/x:y", imageDigest: DIGEST, imageName }).purl);
      assert.equal(parsed.type, "oci");
      assert.equal(parsed.version, DIGEST);
      assert.match(parsed.name, /^[a-z0-9._-]+$/);
    }
  });

  it("rejects a bad digest, an image_name that is not a reference (or carries a digest) with ProductIdentityError naming the field", () => {
    assert.throws(() => productIdentity({ imageRef: "oci:/x:y", imageDigest: `sha256:${"C".repeat(64)}`, imageName: "a/b" }), /image_digest/);
    assert.throws(() => productIdentity({ imageRef: "oci:/x:y", imageDigest: DIGEST, imageName: "Not A Name" }), /image_name/);
    assert.throws(() => productIdentity({ imageRef: "oci:/x:y", imageDigest: DIGEST, imageName: `a/b@${DIGEST}` }), /image_name/);
  });
});
