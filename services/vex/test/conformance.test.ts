import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { VerdictSchema, VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import {
  OpenVexWriter,
  VexNotApplicableError,
  checkConformance,
  grypeDecision,
  grypeProducts,
  produceVex,
  productIdentity,
  purlMatches,
  registryScanContext,
  requireApplicable,
  toolPurls,
  trivyDecision,
  trivyImagePurl,
  type GrypeSource,
  type VexDocument,
} from "../src/lib.js";
import { DIGEST, SETTINGS, fixture, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

const upstream = (path: string): VexDocument => JSON.parse(fixture(`upstream/${path}`)) as VexDocument;
const ALPINE = "124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126";
const LIBCRYPTO = "pkg:apk/alpine/libcrypto3@3.0.8-r3?arch=x86_64&upstream=openssl&distro=alpine-3.17.3";
/** Grype's processor_test context: alpine pulled by digest. */
const GRYPE_ALPINE: GrypeSource = { kind: "image", name: "alpine", tags: [], repoDigests: [`alpine@sha256:${ALPINE}`], version: "3.17" };

function grype(doc: VexDocument, source: GrypeSource, vulnerabilityId: string, packagePurl: string): boolean {
  return grypeDecision(doc, grypeProducts(source), { vulnerabilityId, packagePurl }).suppressed;
}

describe("conformance self-check: Grype's rules on Grype's own test documents", () => {
  it("builds the product identifiers Grype's unit tests expect from tags and repo digests (repository_url without the image name, Docker Hub as index.docker.io)", () => {
    assert.deepEqual(grypeProducts({ kind: "image", name: "alpine", tags: ["alpine:v1.2.3"], repoDigests: [] }), [
      "alpine:v1.2.3",
      "pkg:oci/alpine?tag=v1.2.3",
    ]);
    const ids = grypeProducts({ kind: "image", name: "x", tags: [], repoDigests: [`cgr.dev/chainguard/curl@sha256:${ALPINE}`, `alpine@sha256:${ALPINE}`] });
    assert.ok(purlMatches(ids[1] ?? "", `pkg:oci/curl@sha256%3A${ALPINE}?repository_url=cgr.dev%2Fchainguard`));
    assert.ok(purlMatches(ids[4] ?? "", `pkg:oci/alpine@sha256%3A${ALPINE}?repository_url=index.docker.io%2Flibrary`));
    assert.equal(ids[2], ALPINE);
  });

  it("openvex-demo1: ignores CVE-2023-1255 (fixed, image product, subcomponent without qualifiers) and keeps CVE-2023-3817 and CVE-2023-2975", () => {
    const doc = upstream("grype/openvex-demo1.json");
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-1255", LIBCRYPTO), true);
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-3817", LIBCRYPTO), false);
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-2975", LIBCRYPTO), false);
  });

  it("openvex-demo2 (no ignore rules: fixed and not_affected both ignore): ignores 1255, 2975 and 3817", () => {
    const doc = upstream("grype/openvex-demo2.json");
    for (const cve of ["CVE-2023-1255", "CVE-2023-2975", "CVE-2023-3817"]) assert.equal(grype(doc, GRYPE_ALPINE, cve, LIBCRYPTO), true, cve);
  });

  it("openvex-image-no-subcomponents: an image product without subcomponents ignores the CVE in every package", () => {
    const doc = upstream("grype/openvex-image-no-subcomponents.json");
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-1255", LIBCRYPTO), true);
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-1255", "pkg:apk/alpine/libssl3@3.0.8-r3"), true);
  });

  it("openvex-package-product: a package product matches in the second pass (directory scan), only that package", () => {
    const doc = upstream("grype/openvex-package-product.json");
    const dir: GrypeSource = { kind: "other", name: "", tags: [], repoDigests: [] };
    assert.equal(grype(doc, dir, "CVE-2023-1255", "pkg:apk/alpine/libcrypto3@3.0.8-r3"), true);
    assert.equal(grype(doc, dir, "CVE-2023-1255", "pkg:apk/alpine/curl@8.1.2-r0"), false);
    assert.equal(grype(doc, GRYPE_ALPINE, "CVE-2023-1255", "pkg:apk/alpine/curl@8.1.2-r0"), false);
  });

  it("openvex-debian: Grype's repository_url form matches Grype's debian digest; Trivy's form of the same image does not match it", () => {
    const doc = upstream("grype/openvex-debian.json");
    const debian: GrypeSource = { kind: "image", name: "debian", tags: [], repoDigests: [`debian@sha256:${ALPINE}`] };
    assert.equal(grype(doc, debian, "CVE-2014-fake-1", "pkg:deb/debian/bash@5.2"), true);
    const trivyRoot = trivyImagePurl([`debian@sha256:${ALPINE}`], "amd64");
    assert.equal(trivyRoot, `pkg:oci/debian@sha256%3A${ALPINE}?arch=amd64&repository_url=index.docker.io/library/debian`);
    assert.equal(
      trivyDecision(doc, [trivyRoot ?? ""], { vulnerabilityId: "CVE-2014-fake-1", packagePurl: "pkg:deb/debian/bash@5.2?distro=debian-12.5" }).suppressed,
      false,
    );
  });

  it("affected and under_investigation documents never suppress", () => {
    const src: GrypeSource = { kind: "image", name: "alpine", tags: [], repoDigests: [`alpine@sha256:${"f".repeat(64)}`] };
    const vnc = "pkg:apk/alpine/libvncserver@0.9.9?arch=x86_64&distro=alpine-3.12.0";
    assert.equal(grype(upstream("grype/affected.openvex.json"), src, "CVE-2024-0000", vnc), false);
    assert.equal(
      grypeDecision(upstream("grype/affected.openvex.json"), grypeProducts(src), { vulnerabilityId: "CVE-2024-0000", packagePurl: vnc }).statement?.statement
        .status,
      "affected",
    );
    assert.equal(grype(upstream("grype/under_investigation.openvex.json"), src, "CVE-2024-0000", vnc), false);
  });
});

describe("conformance self-check: Trivy's rules on Trivy's own test documents", () => {
  const spring = "pkg:maven/org.springframework.boot/spring-boot@2.6.0";
  const bash = "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10.1";
  const debianRoot = trivyImagePurl([`debian@sha256:${ALPINE}`], "amd64");

  it("openvex.json: a package product filters CVE-2021-44228 in spring-boot", () => {
    assert.equal(trivyDecision(upstream("trivy/openvex.json"), [], { vulnerabilityId: "CVE-2021-44228", packagePurl: spring }).suppressed, true);
    assert.equal(trivyDecision(upstream("trivy/openvex.json"), [], { vulnerabilityId: "CVE-2021-0001", packagePurl: spring }).suppressed, false);
  });

  it("openvex-multiple.json: the later statement (not_affected) wins for Trivy, the earlier (affected) for Grype", () => {
    const doc = upstream("trivy/openvex-multiple.json");
    const trivy = trivyDecision(doc, [], { vulnerabilityId: "CVE-2021-44228", packagePurl: spring });
    assert.equal(trivy.suppressed, true);
    const g = grypeDecision(doc, [], { vulnerabilityId: "CVE-2021-44228", packagePurl: spring });
    assert.equal(g.statement?.statement.status, "affected");
    assert.equal(g.suppressed, false);
  });

  it("openvex-oci.json: a versionless pkg:oci/debian product with pkg:deb/debian/bash filters bash's CVE-2022-3715 in the image; openvex-oci-mismatch.json does not", () => {
    assert.equal(
      trivyDecision(upstream("trivy/openvex-oci.json"), [debianRoot ?? ""], { vulnerabilityId: "CVE-2022-3715", packagePurl: bash }).suppressed,
      true,
    );
    assert.equal(
      trivyDecision(upstream("trivy/openvex-oci-mismatch.json"), [debianRoot ?? ""], { vulnerabilityId: "CVE-2022-3715", packagePurl: bash }).suppressed,
      false,
    );
    // Without a repo digest (a local archive) Trivy has no image purl: nothing to match.
    assert.equal(trivyDecision(upstream("trivy/openvex-oci.json"), [], { vulnerabilityId: "CVE-2022-3715", packagePurl: bash }).suppressed, false);
  });

  it("openvex-nested.json: a transitive module is filtered through its parent module", () => {
    const doc = upstream("trivy/openvex-nested.json");
    const transitive = { vulnerabilityId: "CVE-2024-0001", packagePurl: "pkg:golang/github.com/aquasecurity/go-transitive@v4.0.0" };
    assert.equal(
      trivyDecision(doc, ["pkg:golang/github.com/aquasecurity/go-direct1@v2.0.0", "pkg:golang/github.com/aquasecurity/root@v1.0.0"], transitive).suppressed,
      true,
    );
    assert.equal(trivyDecision(doc, ["pkg:golang/github.com/aquasecurity/go-direct2@v3.0.0"], transitive).suppressed, false);
  });
});

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** The demo image's /etc/debian_version (Debian 12.15 when the bundled scan was written): Trivy's distro qualifier. */
const DEMO_TRIVY_DISTRO = "debian-12.15";

interface GrypeMatch {
  vulnerability: { id: string };
  relatedVulnerabilities?: { id: string }[];
  artifact: { name: string; version: string; type: string; purl: string };
}

/** The demo scan's findings with the verdicts the reachability stage must give them (expected-verdicts.json). */
function demoVerdicts(): Verdict[] {
  const scan = JSON.parse(readFileSync(`${REPO}deploy/local/demo-image/scan.grype.json`, "utf8")) as { matches: GrypeMatch[] };
  const expected = (
    JSON.parse(readFileSync(`${REPO}deploy/local/demo-image/expected-verdicts.json`, "utf8")) as {
      verdicts: { vulnerability: string; package: string; status: string; justification?: string }[];
    }
  ).verdicts;
  return scan.matches.map((m) => {
    const e = expected.find((x) => x.vulnerability === m.vulnerability.id && x.package === m.artifact.name);
    assert.ok(e !== undefined, `${m.vulnerability.id} ${m.artifact.name} has an expected verdict`);
    const status =
      { affected: VexStatus.AFFECTED, not_affected: VexStatus.NOT_AFFECTED, under_investigation: VexStatus.UNDER_INVESTIGATION }[e.status] ??
      VexStatus.UNDER_INVESTIGATION;
    const justification =
      e.justification === "component_not_present"
        ? VexJustification.COMPONENT_NOT_PRESENT
        : e.justification === undefined
          ? VexJustification.UNSPECIFIED
          : VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH;
    return create(VerdictSchema, {
      vulnerabilityId: m.vulnerability.id,
      aliases: (m.relatedVulnerabilities ?? []).map((r) => r.id).filter((id) => id !== m.vulnerability.id),
      packageName: m.artifact.name,
      packageVersion: m.artifact.version,
      packagePurl: m.artifact.purl,
      packageType: m.artifact.type,
      status,
      justification,
      confidence: 0.9,
      reason: `expected verdict: ${e.status}`,
      evidence: [{ kind: "test", detail: "expected-verdicts.json" }],
    });
  });
}

describe("conformance self-check on our own documents", () => {
  it("the demo image with a registry name: Grype and Trivy would each suppress every not_affected statement", () => {
    const verdicts = demoVerdicts();
    const job = sampleJob({ imageName: "registry.example.com/vexxy/demo:demo", imageDigest: DIGEST });
    const produced = produceVex(job, verdicts, freshKey(), SETTINGS);
    const n = verdicts.filter((v) => v.status === VexStatus.NOT_AFFECTED).length;
    assert.ok(n > 0);
    assert.equal(produced.conformance.summary, `Grype would suppress ${n} of ${n}, Trivy ${n} of ${n}`);
    // Trivy's view with its own distro qualifier (debian-12.15, no upstream=, epoch as a qualifier).
    const identity = productIdentity({ imageRef: job.imageRef, imageDigest: DIGEST, imageName: job.imageName });
    const written = new OpenVexWriter().write({
      documentId: "https://x.test/d",
      author: "t",
      timestamp: new Date(0),
      products: identity.products,
      verdicts,
      tooling: "t",
    });
    const trivyView = checkConformance(written.document as VexDocument, written.statementVerdicts, {
      ...registryScanContext(identity),
      trivyDistro: DEMO_TRIVY_DISTRO,
    });
    assert.equal(trivyView.trivySuppressed, n);
    assert.equal(produced.localConformance, undefined, "no tag identifiers unless opted in");
    console.log(`      demo (registry.example.com/vexxy/demo): ${produced.conformance.summary}`);
  });

  it("the demo image with the tag opt-in: Grype scanning the local layout suppresses every not_affected statement, Trivy none (it has no image purl there)", () => {
    const verdicts = demoVerdicts();
    const produced = produceVex(sampleJob({ imageName: "registry.example.com/vexxy/demo:demo", tagIdentifiers: true }), verdicts, freshKey(), SETTINGS);
    const n = verdicts.filter((v) => v.status === VexStatus.NOT_AFFECTED).length;
    assert.equal(produced.localConformance?.summary, `Grype would suppress ${n} of ${n}, Trivy 0 of ${n}`);
    console.log(`      demo, local layout with tag identifiers: ${produced.localConformance?.summary ?? ""}`);
  });

  it("Grype's tag identifier cuts at the first ':', so a registry with a port gets no local match; the registry figures are unaffected", () => {
    const produced = produceVex(sampleJob({ imageName: "localhost:5000/team/app:1.0", tagIdentifiers: true }), sampleVerdicts(), freshKey(), SETTINGS);
    assert.equal(produced.conformance.summary, "Grype would suppress 2 of 2, Trivy 2 of 2");
    assert.equal(produced.localConformance?.grypeSuppressed, 0);
  });

  it("converts a Grype Debian purl to Trivy's (epoch to a qualifier, full distro version, no upstream) and back", () => {
    const v = create(VerdictSchema, { packagePurl: "pkg:deb/debian/libgcrypt20@1:1.10.1-3?arch=amd64&distro=debian-12&upstream=libgcrypt20" });
    assert.deepEqual(toolPurls(v, "debian-12.15"), {
      grype: "pkg:deb/debian/libgcrypt20@1%3A1.10.1-3?arch=amd64&distro=debian-12&upstream=libgcrypt20",
      trivy: "pkg:deb/debian/libgcrypt20@1.10.1-3?arch=amd64&distro=debian-12.15&epoch=1",
    });
  });

  it("fails (VexNotApplicableError) a document with a not_affected statement neither tool would apply: Trivy's oci-mismatch document against our demo's registry scan", () => {
    const verdict = create(VerdictSchema, {
      vulnerabilityId: "CVE-2022-3715",
      packageName: "bash",
      packagePurl: "pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12",
      status: VexStatus.NOT_AFFECTED,
    });
    const identity = productIdentity({ imageRef: "oci:/x:demo", imageDigest: DIGEST, imageName: "registry.example.com/vexxy/demo" });
    const report = checkConformance(upstream("trivy/openvex-oci-mismatch.json"), [[verdict]], registryScanContext(identity));
    assert.equal(report.summary, "Grype would suppress 0 of 1, Trivy 0 of 1");
    assert.throws(
      () => requireApplicable(report),
      (e: unknown) => e instanceof VexNotApplicableError && /statements\/0 \(CVE-2022-3715 in pkg:deb\/debian\/bash\)/.test(e.message),
    );
    const ours = checkConformance(upstream("trivy/openvex-oci.json"), [[verdict]], registryScanContext(identity));
    assert.equal(ours.summary, "Grype would suppress 0 of 1, Trivy 0 of 1", "pkg:oci/debian names another image");
  });
});

describe("never conflicting statements", () => {
  const base = { packageName: "openssl", packageType: "deb", reason: "r", evidence: [{ kind: "k" }], confidence: 0.9 };
  it("merges findings of one package and one vulnerability (or its alias) into one statement, the most cautious verdict deciding", () => {
    const a = create(VerdictSchema, {
      ...base,
      vulnerabilityId: "CVE-2024-1",
      packagePurl: "pkg:deb/debian/openssl@3.0.1?arch=amd64&distro=debian-12",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
    });
    const b = create(VerdictSchema, {
      ...base,
      vulnerabilityId: "GHSA-xxxx",
      aliases: ["CVE-2024-1"],
      packagePurl: "pkg:deb/debian/openssl@3.0.1?arch=amd64&distro=debian-12.5",
      status: VexStatus.AFFECTED,
    });
    const doc = new OpenVexWriter().write({
      documentId: "https://x.test/1",
      author: "t",
      timestamp: new Date(0),
      products: [`pkg:oci/app@sha256%3A${"c".repeat(64)}`],
      verdicts: [a, b],
      tooling: "t",
    }).document as VexDocument;
    assert.equal(doc.statements?.length, 1);
    assert.equal(doc.statements?.[0]?.status, "affected");
    assert.deepEqual(doc.statements?.[0]?.vulnerability?.aliases, ["CVE-2024-1"]);
  });

  it("keeps the version where one name has several versions among the findings, so one version's not_affected never covers another", () => {
    const v1 = create(VerdictSchema, {
      ...base,
      packageName: "lodash",
      vulnerabilityId: "CVE-2024-2",
      packagePurl: "pkg:npm/lodash@4.17.20",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
    });
    const v2 = create(VerdictSchema, {
      ...base,
      packageName: "lodash",
      vulnerabilityId: "CVE-2024-2",
      packagePurl: "pkg:npm/lodash@3.10.1",
      status: VexStatus.AFFECTED,
    });
    const produced = produceVex(sampleJob(), [v1, v2], freshKey(), SETTINGS);
    const doc = JSON.parse(produced.documentJson) as VexDocument;
    assert.deepEqual(
      doc.statements?.map((s) => s.products?.[0]?.subcomponents?.[0]?.["@id"]),
      ["pkg:npm/lodash@4.17.20", "pkg:npm/lodash@3.10.1"],
    );
    assert.equal(produced.conformance.summary, "Grype would suppress 1 of 1, Trivy 1 of 1");
    // Every (vulnerability, product, subcomponent) appears in one statement only.
    const seen = new Set<string>();
    for (const s of doc.statements ?? [])
      for (const p of s.products ?? [])
        for (const c of p.subcomponents ?? []) {
          const key = `${s.vulnerability?.name}|${p["@id"]}|${c["@id"]}`;
          assert.ok(!seen.has(key), key);
          seen.add(key);
        }
  });
});
