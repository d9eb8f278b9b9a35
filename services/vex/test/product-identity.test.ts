import assert from "node:assert/strict";
import { PackageURL } from "packageurl-js";
import { ProductIdentityError, productIdentity } from "../src/lib.js";
import { DIGEST, DIGEST_HEX } from "./helpers.js";

describe("product identity (the image's pkg:oci purl)", () => {
  it("percent-encodes the digest's ':' and names an OCI layout after its directory, its reference as the tag", () => {
    const id = productIdentity("oci:/srv/images/demo-image:demo", DIGEST);
    assert.equal(id.purl, `pkg:oci/demo-image@sha256%3A${DIGEST_HEX}?tag=demo`);
    assert.equal(id.subjectName, "demo-image");
    assert.equal(id.digestHex, DIGEST_HEX);
  });

  it("names a layout stored in a generic directory (…/app/oci) after the parent, and an archive after its file without extension", () => {
    assert.equal(productIdentity("oci:/work/app/oci", DIGEST).purl, `pkg:oci/app@sha256%3A${DIGEST_HEX}`);
    assert.equal(productIdentity("oci-archive:/tmp/My_Service.tar", DIGEST).purl, `pkg:oci/my_service@sha256%3A${DIGEST_HEX}`);
    assert.equal(productIdentity("oci-archive:/tmp/web.tar:v2", DIGEST).purl, `pkg:oci/web@sha256%3A${DIGEST_HEX}?tag=v2`);
  });

  it("takes a docker-archive's docker name and tag over its file name", () => {
    assert.equal(productIdentity("docker-archive:/tmp/save.tar:nginx:1.25", DIGEST).purl, `pkg:oci/nginx@sha256%3A${DIGEST_HEX}?tag=1.25`);
    assert.equal(productIdentity("docker-archive:/tmp/nginx.tar", DIGEST).purl, `pkg:oci/nginx@sha256%3A${DIGEST_HEX}`);
  });

  it("gives registry images repository_url with '/' unencoded and the repository as the in-toto subject name", () => {
    const reg = productIdentity(`docker://ghcr.io/example/app@${DIGEST}`, DIGEST);
    assert.equal(reg.purl, `pkg:oci/app@sha256%3A${DIGEST_HEX}?repository_url=ghcr.io/example/app`);
    assert.equal(reg.subjectName, "ghcr.io/example/app");
    const tagged = productIdentity(`docker://localhost:5000/team/api:1.0@${DIGEST}`, DIGEST);
    assert.equal(tagged.purl, `pkg:oci/api@sha256%3A${DIGEST_HEX}?repository_url=localhost:5000/team/api&tag=1.0`);
  });

  it("expands Docker Hub short names as docker does (docker.io/library/…)", () => {
    assert.equal(productIdentity(`docker://debian@${DIGEST}`, DIGEST).subjectName, "docker.io/library/debian");
    assert.equal(productIdentity(`docker://bitnami/redis:7@${DIGEST}`, DIGEST).purl, `pkg:oci/redis@sha256%3A${DIGEST_HEX}?repository_url=docker.io/bitnami/redis&tag=7`);
  });

  it("produces purls that packageurl-js parses back to type oci, the name and the sha256 version", () => {
    for (const ref of ["oci:/srv/images/demo-image:demo", `docker://ghcr.io/Example/App:Latest@${DIGEST}`, "oci-archive:/tmp/x y.tar"]) {
      const parsed = PackageURL.fromString(productIdentity(ref, DIGEST).purl);
      assert.equal(parsed.type, "oci");
      assert.equal(parsed.version, DIGEST);
      assert.match(parsed.name, /^[a-z0-9._-]+$/);
    }
  });

  it("rejects a digest that is not sha256:<64 lowercase hex> and a reference of an unknown transport with ProductIdentityError", () => {
    assert.throws(() => productIdentity("oci:/x:y", `sha256:${"C".repeat(64)}`), ProductIdentityError);
    assert.throws(() => productIdentity("oci:/x:y", "sha512:abc"), /image_digest/);
    assert.throws(() => productIdentity("dir:/tmp/rootfs", DIGEST), ProductIdentityError);
    assert.throws(() => productIdentity("docker://", DIGEST), ProductIdentityError);
  });
});
