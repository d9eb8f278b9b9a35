import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { clone, create } from "@bufbuild/protobuf";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { EvidenceSchema, VerdictSchema, VexDocumentFormat, VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import {
  CYCLONEDX_JUSTIFICATION,
  CYCLONEDX_STATE,
  CycloneDxVexWriter,
  InvalidVexDocumentError,
  OCCURRENCES_MAX,
  cycloneDxProblems,
  productIdentity,
  produceVex,
  verifyBundle,
  vexWriter,
  writeRuntimeSbom,
  type VexInput,
} from "../src/lib.js";
import { SETTINGS, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

interface CdxVulnerability {
  id: string;
  analysis: { state: string; justification?: string; detail?: string; response?: string[] };
  affects: { ref: string }[];
  references?: { id: string }[];
}
interface CdxComponent {
  "bom-ref": string;
  purl?: string;
  name: string;
  evidence?: { occurrences: { location: string; additionalContext?: string }[] };
  properties?: { name: string; value: string }[];
}
interface CdxDocument {
  specVersion: string;
  serialNumber: string;
  metadata: { component: { type: string; purl: string; version: string } };
  components?: CdxComponent[];
  vulnerabilities?: CdxVulnerability[];
}

/** @sigstore/verify used directly (as signing.test.ts does): the key is the only trust anchor. */
function sigstoreVerify(bundleJson: string, pem: string): void {
  const publicKey = createPublicKey(pem);
  const root = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
  };
  const trust = toTrustMaterial(root as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey, validFor: () => true }));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(JSON.parse(bundleJson))));
}

function input(verdicts: readonly Verdict[]): VexInput {
  const job = sampleJob();
  const product = productIdentity({ imageRef: job.imageRef, imageDigest: job.imageDigest, imageName: job.imageName });
  return {
    documentId: "https://vexxy.dev/vex/job-1/1",
    author: SETTINGS.author,
    timestamp: new Date("2026-12-02T12:00:00Z"),
    products: product.products,
    verdicts,
    tooling: SETTINGS.tooling,
  };
}

/** A copy of a verdict with some fields changed. */
function variant(v: Verdict | undefined, patch: Partial<Omit<Verdict, "$typeName">>): Verdict {
  assert.ok(v !== undefined);
  return Object.assign(clone(VerdictSchema, v), patch);
}

function ev(kind: string, path: string, detail: string) {
  return create(EvidenceSchema, { kind, path, detail });
}

function property(c: CdxComponent, name: string): string | undefined {
  return c.properties?.find((p) => p.name === name)?.value;
}

/** A synthetic large scan: `packages` packages, `perPackage` vulnerabilities each, every status and justification. */
function largeVerdicts(packages: number, perPackage: number): Verdict[] {
  const out: Verdict[] = [];
  for (let p = 0; p < packages; p++) {
    for (let k = 0; k < perPackage; k++) {
      const kind = (p + k) % 5;
      const status =
        [VexStatus.AFFECTED, VexStatus.NOT_AFFECTED, VexStatus.NOT_AFFECTED, VexStatus.UNDER_INVESTIGATION, VexStatus.FIXED][kind] ?? VexStatus.AFFECTED;
      const justification =
        kind === 1 ? VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH : kind === 2 ? VexJustification.COMPONENT_NOT_PRESENT : VexJustification.UNSPECIFIED;
      // Affected packages used many files: more than the occurrences bound for some.
      const files = status === VexStatus.AFFECTED ? 1 + (p % 70) : 0;
      out.push(
        create(VerdictSchema, {
          vulnerabilityId: `CVE-2099-${String(p * perPackage + k).padStart(6, "0")}`,
          packageName: `lib${p}`,
          packageVersion: "1.0-1",
          packageType: "deb",
          packagePurl: `pkg:deb/debian/lib${p}@1.0-1?arch=amd64&distro=debian-12`,
          status,
          justification,
          confidence: 0.9,
          reason: "synthetic",
          severity: ["Critical", "High", "Medium", "Low", "Negligible"][kind] ?? "",
          evidence:
            files > 0
              ? Array.from({ length: files }, (_, f) => ({
                  kind: f === 0 ? "code_executed" : "file_read",
                  path: `/usr/lib/lib${p}/f${f}.so`,
                  detail: "opened 1 time",
                }))
              : [{ kind: "no_file_used", detail: "12 files owned" }],
        }),
      );
    }
  }
  return out;
}

describe("CycloneDX 1.6 VEX and the runtime SBOM", function () {
  // The CycloneDX schema is large: its first compilation takes seconds on a loaded machine.
  this.timeout(300000);

  it("maps each status to its analysis.state and each OpenVEX justification to its CycloneDX justification", () => {
    assert.deepEqual(Object.fromEntries(Object.entries(CYCLONEDX_STATE).map(([k, v]) => [VexStatus[Number(k)], v])), {
      UNSPECIFIED: "in_triage",
      NOT_AFFECTED: "not_affected",
      AFFECTED: "exploitable",
      FIXED: "resolved",
      UNDER_INVESTIGATION: "in_triage",
    });
    assert.deepEqual(Object.fromEntries(Object.entries(CYCLONEDX_JUSTIFICATION).map(([k, v]) => [VexJustification[Number(k)], v])), {
      UNSPECIFIED: undefined,
      COMPONENT_NOT_PRESENT: "code_not_present",
      VULNERABLE_CODE_NOT_PRESENT: "code_not_present",
      VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: "code_not_reachable",
      VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY: "requires_environment",
      INLINE_MITIGATIONS_ALREADY_EXIST: "protected_by_mitigating_control",
    });
    const fixed = variant(sampleVerdicts()[0], { vulnerabilityId: "CVE-2024-0001", status: VexStatus.FIXED, reason: "fixed upstream" });
    const doc = new CycloneDxVexWriter().write(input([...sampleVerdicts(), fixed])).document as unknown as CdxDocument;
    const byId = new Map((doc.vulnerabilities ?? []).map((v) => [v.id, v]));
    assert.equal(byId.get("CVE-2005-2541")?.analysis.state, "exploitable");
    assert.deepEqual(byId.get("CVE-2005-2541")?.analysis.response, ["update"]);
    assert.equal(byId.get("CVE-2011-3374")?.analysis.state, "not_affected");
    assert.equal(byId.get("CVE-2011-3374")?.analysis.justification, "code_not_reachable");
    assert.equal(byId.get("CVE-2023-38545")?.analysis.justification, "code_not_present");
    assert.equal(byId.get("GHSA-35jh-r3h4-6jhm")?.analysis.state, "in_triage");
    assert.deepEqual(
      byId.get("GHSA-35jh-r3h4-6jhm")?.references?.map((r) => r.id),
      ["CVE-2021-23337"],
    );
    assert.equal(byId.get("CVE-2024-0001")?.analysis.state, "resolved");
    // The detail states the evidence and the confidence.
    assert.match(byId.get("CVE-2011-3374")?.analysis.detail ?? "", /no_file_touched 43 files owned\. Confidence 0\.80\./);
    assert.match(byId.get("CVE-2005-2541")?.analysis.detail ?? "", /executed \/usr\/bin\/tar 3 times/);
  });

  it("writes a VEX valid against the CycloneDX 1.6 schema: the image as metadata.component, the scan's purls as components, affects naming them", () => {
    const written = vexWriter("cyclonedx").write(input(sampleVerdicts()));
    assert.deepEqual(cycloneDxProblems(written.document), []);
    assert.deepEqual(cycloneDxProblems(JSON.parse(written.json)), []);
    const doc = written.document as unknown as CdxDocument;
    assert.equal(doc.specVersion, "1.6");
    assert.match(doc.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(doc.metadata.component.type, "container");
    assert.equal(doc.metadata.component.purl, `pkg:oci/demo-image@sha256%3A${"c".repeat(64)}`);
    assert.equal(doc.metadata.component.version, `sha256:${"c".repeat(64)}`);
    assert.deepEqual(
      (doc.components ?? []).map((c) => c.purl),
      sampleVerdicts().map((v) => v.packagePurl),
    );
    for (const v of doc.vulnerabilities ?? []) {
      for (const a of v.affects)
        assert.ok(
          (doc.components ?? []).some((c) => c["bom-ref"] === a.ref),
          `${v.id} affects ${a.ref}`,
        );
    }
    // One entry per vulnerability here; the statements it answers are the verdicts.
    assert.equal(written.statementVerdicts.length, 4);
    // The same document id gives the same serial number (a redone attempt overwrites its document).
    assert.equal((vexWriter("cyclonedx").write(input(sampleVerdicts())).document as unknown as CdxDocument).serialNumber, doc.serialNumber);
  });

  it("the validator finds a broken document: an unknown state, an affects ref naming no component, a repeated (vulnerability, component)", () => {
    const doc = vexWriter("cyclonedx").write(input(sampleVerdicts())).document as unknown as CdxDocument;
    const broken = structuredClone(doc);
    const first = broken.vulnerabilities?.[0];
    assert.ok(first !== undefined);
    first.analysis.state = "maybe";
    assert.ok(cycloneDxProblems(broken).some((p) => p.startsWith("/vulnerabilities/0/analysis/state")));
    const dangling = structuredClone(doc);
    const a = dangling.vulnerabilities?.[1]?.affects[0];
    assert.ok(a !== undefined);
    a.ref = "pkg:deb/debian/nothing@1";
    assert.ok(cycloneDxProblems(dangling).some((p) => p.includes("names no bom-ref")));
    const repeated = structuredClone(doc);
    const again = structuredClone(repeated.vulnerabilities?.[1]);
    assert.ok(again !== undefined);
    again.analysis = { state: "exploitable" };
    (again as unknown as Record<string, unknown>)["bom-ref"] = "vexxy:vulnerability/again";
    repeated.vulnerabilities?.push(again);
    assert.ok(cycloneDxProblems(repeated).some((p) => p.includes("states CVE-2011-3374 for")));
  });

  it("never writes two analyses of one (vulnerability, component): disagreeing findings are merged, the most cautious stated", () => {
    const [affected, notAffected] = sampleVerdicts();
    assert.ok(affected !== undefined && notAffected !== undefined);
    // The same package and vulnerability reported twice (two matchers), once affected, once not.
    const a = variant(notAffected, { vulnerabilityId: "CVE-2030-1", packageName: "tar", packagePurl: affected.packagePurl });
    const b = variant(affected, { vulnerabilityId: "CVE-2030-1" });
    // A GHSA aliasing the same CVE, same package: one finding too.
    const c = variant(notAffected, {
      vulnerabilityId: "GHSA-aaaa-bbbb-cccc",
      aliases: ["CVE-2030-1"],
      packageName: "tar",
      packagePurl: affected.packagePurl,
    });
    // Another package with the same vulnerability and another outcome: its own entry.
    const d = variant(notAffected, { vulnerabilityId: "CVE-2030-1" });
    const written = vexWriter("cyclonedx").write(input([a, b, c, d]));
    assert.deepEqual(cycloneDxProblems(written.document), []);
    const vulns = (written.document as unknown as CdxDocument).vulnerabilities ?? [];
    const pairs = vulns.flatMap((v) => [v.id, ...(v.references ?? []).map((r) => r.id)].flatMap((id) => v.affects.map((x) => `${id} ${x.ref}`)));
    assert.equal(new Set(pairs).size, pairs.length, `repeated pairs: ${pairs.join(", ")}`);
    const tar = vulns.filter((v) => v.affects.some((x) => x.ref === affected.packagePurl));
    assert.equal(tar.length, 1);
    assert.equal(tar[0]?.analysis.state, "exploitable");
    assert.match(tar[0]?.analysis.detail ?? "", /answers 3 findings .* the most cautious verdict is stated/);
    const apt = vulns.filter((v) => v.affects.some((x) => x.ref === notAffected.packagePurl));
    assert.equal(apt.length, 1);
    assert.equal(apt[0]?.analysis.state, "not_affected");
  });

  it("refuses a not_affected verdict without a justification or any evidence, and a job with no verdicts", () => {
    const [, notAffected] = sampleVerdicts();
    assert.ok(notAffected !== undefined);
    const unjustified = variant(notAffected, { justification: VexJustification.UNSPECIFIED });
    assert.throws(
      () => vexWriter("cyclonedx").write(input([unjustified])),
      (e: unknown) => e instanceof InvalidVexDocumentError && /without a justification/.test(e.message),
    );
    const unevidenced = variant(notAffected, { reason: "", evidence: [] });
    assert.throws(
      () => vexWriter("cyclonedx").write(input([unevidenced])),
      (e: unknown) => e instanceof InvalidVexDocumentError && /without any evidence/.test(e.message),
    );
    assert.throws(() => vexWriter("cyclonedx").write(input([])), InvalidVexDocumentError);
  });

  it("the runtime SBOM lists exactly the packages seen in use, each file used as an evidence occurrence, valid against the schema", () => {
    const verdicts = sampleVerdicts();
    const tar = verdicts[0];
    assert.ok(tar !== undefined);
    // A second vulnerability of tar repeats its uses: tar is listed once, its files once.
    const tar2 = variant(tar, {
      vulnerabilityId: "CVE-2099-9",
      evidence: [...tar.evidence, ev("code_mapped", "/usr/lib/x86_64-linux-gnu/libacl.so.1", "mapped executable 1 time")],
    });
    // Affected on a verdict without a file path (no evidence of which file): not listed.
    const noPath = variant(tar, {
      packageName: "zlib",
      packagePurl: "pkg:deb/debian/zlib@1",
      evidence: [ev("code_executed", "", "?")],
    });
    const sbom = writeRuntimeSbom(input([...verdicts, tar2, noPath]));
    assert.deepEqual(cycloneDxProblems(sbom.document), []);
    const doc = sbom.document as unknown as CdxDocument;
    assert.deepEqual(
      (doc.components ?? []).map((c) => c["bom-ref"]),
      [tar.packagePurl],
    );
    assert.deepEqual(sbom.packages, [tar.packagePurl]);
    const component = doc.components?.[0];
    assert.ok(component !== undefined);
    assert.deepEqual(
      component.evidence?.occurrences.map((o) => o.location),
      ["/usr/bin/tar", "/usr/lib/x86_64-linux-gnu/libacl.so.1"],
    );
    assert.equal(component.evidence?.occurrences[0]?.additionalContext, "executed: 3 times");
    assert.equal(property(component, "vexxy:evidence-kinds"), "code_mapped,executed");
    assert.equal(property(component, "vexxy:files-used"), "2");
    assert.equal(property(component, "vexxy:occurrences-not-listed"), undefined);
    assert.equal(doc.metadata.component.purl, `pkg:oci/demo-image@sha256%3A${"c".repeat(64)}`);
  });

  it("the runtime SBOM bounds the occurrences per component and says how many more files were used", () => {
    const [tar] = sampleVerdicts();
    assert.ok(tar !== undefined);
    const many = variant(tar, {
      evidence: [
        ...Array.from({ length: OCCURRENCES_MAX + 10 }, (_, i) => ev("file_read", `/usr/share/tar/f${i}`, "opened 1 time")),
        ev("more_files", "", "30 more files of the package were used"),
      ],
    });
    const doc = writeRuntimeSbom(input([many])).document as unknown as CdxDocument;
    const component = doc.components?.[0];
    assert.ok(component !== undefined);
    assert.equal(component.evidence?.occurrences.length, OCCURRENCES_MAX);
    assert.equal(property(component, "vexxy:files-used"), String(OCCURRENCES_MAX + 10 + 30));
    assert.equal(property(component, "vexxy:occurrences-not-listed"), "40");
  });

  it("a large scan (2,000 packages, 10,000 verdicts of every status) gives a valid VEX and SBOM, one analysis per (vulnerability, component), the SBOM listing exactly the used packages", () => {
    const verdicts = largeVerdicts(2000, 5);
    const started = Date.now();
    const written = vexWriter("cyclonedx").write(input(verdicts));
    const sbom = writeRuntimeSbom(input(verdicts));
    console.log(
      `      CycloneDX VEX + runtime SBOM of 10,000 verdicts: ${Date.now() - started} ms, VEX ${written.json.length} bytes, SBOM ${sbom.json.length} bytes`,
    );
    assert.deepEqual(cycloneDxProblems(written.document), []);
    assert.deepEqual(cycloneDxProblems(sbom.document), []);
    const doc = written.document as unknown as CdxDocument;
    assert.equal(doc.components?.length, 2000);
    const pairs = (doc.vulnerabilities ?? []).flatMap((v) => v.affects.map((a) => `${v.id} ${a.ref}`));
    assert.equal(pairs.length, 10000);
    assert.equal(new Set(pairs).size, 10000);
    const used = new Set(verdicts.filter((v) => v.status === VexStatus.AFFECTED).map((v) => v.packagePurl));
    assert.deepEqual(new Set(sbom.packages), used);
    const occurrences = ((sbom.document as unknown as CdxDocument).components ?? []).map((c) => c.evidence?.occurrences.length ?? 0);
    assert.ok(Math.max(...occurrences) === OCCURRENCES_MAX, "some packages used more files than the bound");
  });

  it("produceVex with both formats signs the CycloneDX VEX as an in-toto statement with predicateType https://cyclonedx.org/bom, verified by @sigstore/verify", () => {
    const key = freshKey();
    const job = sampleJob();
    job.vexFormats = [VexDocumentFormat.OPENVEX, VexDocumentFormat.CYCLONEDX];
    const produced = produceVex(job, sampleVerdicts(), key, SETTINGS);
    assert.deepEqual(
      produced.documents.map((d) => d.format),
      ["openvex", "cyclonedx"],
    );
    const cdx = produced.documents[1];
    assert.ok(cdx?.runtimeSbomJson !== undefined);
    assert.match(cdx.documentId, /^urn:uuid:/);
    sigstoreVerify(cdx.bundleJson, key.publicKeyPem);
    const payload = JSON.parse(
      Buffer.from((JSON.parse(cdx.bundleJson) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, "base64").toString("utf8"),
    ) as {
      predicateType: string;
      predicate: unknown;
      subject: { digest: { sha256: string } }[];
    };
    assert.equal(payload.predicateType, "https://cyclonedx.org/bom");
    // Signed with another key, the bundle does not verify.
    assert.throws(() => sigstoreVerify(cdx.bundleJson, freshKey().publicKeyPem));
    assert.deepEqual(payload.predicate, JSON.parse(cdx.documentJson));
    assert.equal(payload.subject[0]?.digest.sha256, "c".repeat(64));
    // The OpenVEX bundle is unchanged by the second format.
    assert.equal(verifyBundle(produced.bundleJson, key.publicKeyPem).predicateType, "https://openvex.dev/ns");
    // No formats named: OpenVEX only.
    assert.deepEqual(
      produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS).documents.map((d) => d.format),
      ["openvex"],
    );
    job.vexFormats = [VexDocumentFormat.CYCLONEDX];
    assert.deepEqual(
      produceVex(job, sampleVerdicts(), key, SETTINGS).documents.map((d) => d.format),
      ["cyclonedx"],
    );
  });
});
