import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { createPublicKey, generateKeyPairSync, createPrivateKey } from "node:crypto";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { JobRefSchema, VerdictSchema, VexJustification, VexStatus } from "@vexxy/proto";
import { noopLogger } from "@vexxy/platform";
import { tempDir } from "@vexxy/testkit";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { bundleFromJSON } from "@sigstore/bundle";
import {
  InvalidVexDocumentError,
  OpenVexWriter,
  keyHint,
  loadSigningKey,
  openVexProblems,
  produceVex,
  productIdentity,
  verifyEnvelope,
  verifySigstoreBundle,
  type SigningKey,
} from "../src/index.js";

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8");
const DIGEST = `sha256:${"c".repeat(64)}`;

function key(): SigningKey {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), hint: keyHint(publicKey) };
}

const verdicts = [
  create(VerdictSchema, { vulnerabilityId: "CVE-2005-2541", packageName: "tar", packageVersion: "1.34", packagePurl: "pkg:deb/debian/tar@1.34?arch=amd64", status: VexStatus.AFFECTED, confidence: 0.95, reason: "tar was executed.", evidence: [{ kind: "executed", path: "/usr/bin/tar" }] }),
  create(VerdictSchema, { vulnerabilityId: "CVE-2011-3374", packageName: "apt", packageVersion: "2.6.1", packagePurl: "pkg:deb/debian/apt@2.6.1", status: VexStatus.NOT_AFFECTED, justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH, confidence: 0.8, reason: "No file of apt was touched.", evidence: [{ kind: "no_file_touched", detail: "43 files" }] }),
  create(VerdictSchema, { vulnerabilityId: "CVE-2023-38545", packageName: "curl", packagePurl: "pkg:deb/debian/curl@7.88.1", status: VexStatus.NOT_AFFECTED, justification: VexJustification.COMPONENT_NOT_PRESENT, confidence: 0.95, reason: "curl is not installed." }),
  create(VerdictSchema, { vulnerabilityId: "GHSA-35jh-r3h4-6jhm", aliases: ["CVE-2021-23337"], packageName: "lodash", packagePurl: "pkg:npm/lodash@4.17.20", status: VexStatus.UNDER_INVESTIGATION, confidence: 0.2, reason: "npm packages are not catalogued." }),
];
const job = create(JobRefSchema, { jobId: "0b0e7a4e-0000-4000-8000-000000000001", attempt: 1, imageRef: "oci:/x/demo-image/oci:demo", imageDigest: DIGEST });
const settings = { author: "test", idBase: "https://vexxy.dev/vex/", tooling: "test" };

describe("OpenVEX writing and DSSE signing", () => {
  it("derives the product purl with the digest's ':' percent-encoded, a tag qualifier and repository_url for registry images", () => {
    assert.equal(productIdentity("oci:/x/demo-image/oci:demo", DIGEST).purl, `pkg:oci/demo-image@sha256%3A${"c".repeat(64)}?tag=demo`);
    const reg = productIdentity(`docker://ghcr.io/example/app@${DIGEST}`, DIGEST);
    assert.equal(reg.purl, `pkg:oci/app@sha256%3A${"c".repeat(64)}?repository_url=ghcr.io/example/app`);
    assert.equal(reg.subjectName, "ghcr.io/example/app");
  });

  it("writes a schema-valid document with one statement per verdict, the scan's purls as subcomponents and the evidence stated", () => {
    const produced = produceVex(job, verdicts, key(), settings);
    const doc = JSON.parse(produced.documentJson) as { "@context": string; statements: Record<string, unknown>[] };
    assert.deepEqual(openVexProblems(doc), []);
    assert.equal(doc["@context"], "https://openvex.dev/ns/v0.2.0");
    assert.equal(doc.statements.length, 4);
    const [affected, notAffected, absent, unknown] = doc.statements as Array<Record<string, unknown> & { products: { subcomponents: { "@id": string }[] }[] }>;
    assert.equal(affected!["status"], "affected");
    assert.match(String(affected!["status_notes"]), /\/usr\/bin\/tar/);
    assert.ok(typeof affected!["action_statement"] === "string");
    assert.equal(notAffected!["justification"], "vulnerable_code_not_in_execute_path");
    assert.match(String(notAffected!["impact_statement"]), /No file of apt/);
    assert.equal(absent!["justification"], "component_not_present");
    assert.equal(unknown!["status"], "under_investigation");
    assert.equal(unknown!.products[0]!.subcomponents[0]!["@id"], "pkg:npm/lodash@4.17.20");
    assert.equal(unknown!["justification"], undefined);
  });

  it("refuses to write a not_affected statement without a justification or impact statement", () => {
    assert.deepEqual(openVexProblems({ "@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x", author: "a", timestamp: "2026-01-01T00:00:00Z", version: 1, statements: [{ vulnerability: { name: "CVE-1" }, products: [{ "@id": "pkg:oci/x" }], status: "not_affected" }] }).length > 0, true);
    assert.throws(() => new OpenVexWriter().write({ documentId: "not an iri", author: "", timestamp: new Date(), productPurl: "", verdicts: [], tooling: "" }), InvalidVexDocumentError);
  });

  it("signs a bundle that @sigstore/verify and an independent node:crypto check both accept, and a flipped payload byte fails both", () => {
    const k = key();
    const produced = produceVex(job, verdicts, k, settings);
    const statement = verifySigstoreBundle(produced.bundleJson, k.publicKeyPem);
    assert.equal(statement["predicateType"], "https://openvex.dev/ns");
    assert.deepEqual(statement["subject"], [{ name: "demo-image", digest: { sha256: "c".repeat(64) } }]);
    assert.deepEqual(statement["predicate"], JSON.parse(produced.documentJson));
    const bundle = JSON.parse(produced.bundleJson) as { dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] } };
    assert.ok(verifyEnvelope(bundle.dsseEnvelope, k.publicKey));
    const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64");
    payload[payload.length - 3] ^= 1;
    const tampered = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: payload.toString("base64") } };
    assert.equal(verifyEnvelope(tampered.dsseEnvelope, k.publicKey), false);
    assert.throws(() => verifySigstoreBundle(JSON.stringify(tampered), k.publicKeyPem));
    assert.throws(() => verifySigstoreBundle(produced.bundleJson, key().publicKeyPem), "another key does not verify it");
  });

  it("verifies the reference ECDSA P-256 and Ed25519 bundles with @sigstore/verify directly", () => {
    for (const [bundle, pem] of [["openvex-attestation.ecdsa-p256.sigstore.json", "ecdsa-p256.pub.pem"], ["openvex-attestation.ed25519.sigstore.json", "ed25519.pub.pem"]] as const) {
      const publicKey = createPublicKey(fixture(pem));
      const root = { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
      const trust = toTrustMaterial(root as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey, validFor: () => true }));
      new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(JSON.parse(fixture(bundle)))));
      const statement = verifySigstoreBundle(fixture(bundle), fixture(pem));
      assert.equal(statement["predicateType"], "https://openvex.dev/ns");
    }
  });

  it("generates a P-256 key once, keeps it with mode 0600 and loads the same one again", async () => {
    const dir = await tempDir("vexkey");
    try {
      const a = await loadSigningKey(undefined, dir.path, noopLogger);
      const b = await loadSigningKey(undefined, dir.path, noopLogger);
      assert.equal(a.hint, b.hint);
      const { statSync } = await import("node:fs");
      assert.equal(statSync(`${dir.path}/vex-signing.key.pem`).mode & 0o777, 0o600);
      await assert.rejects(loadSigningKey(`${dir.path}/missing.pem`, dir.path, noopLogger), /VEX_SIGNING_KEY_FILE/);
      const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });
      const { writeFileSync } = await import("node:fs");
      writeFileSync(`${dir.path}/ed.pem`, ed);
      await assert.rejects(loadSigningKey(`${dir.path}/ed.pem`, dir.path, noopLogger), /P-256/);
      assert.ok(createPrivateKey(readFileSync(`${dir.path}/vex-signing.key.pem`)));
    } finally {
      await dir.remove();
    }
  });
});
