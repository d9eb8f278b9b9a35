import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { SubmitAnalysisRequestSchema, type SubmitAnalysisRequest } from "@vexxy/proto";
import { InvalidFieldError } from "@vexxy/platform";
import { validateSubmit } from "../src/submit-validation.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

function request(overrides: Exclude<MessageInitShape<typeof SubmitAnalysisRequestSchema>, SubmitAnalysisRequest> = {}): SubmitAnalysisRequest {
  return create(SubmitAnalysisRequestSchema, {
    imageRef: "oci:/images/demo:demo",
    imageDigest: DIGEST,
    vulnerabilityReport: Buffer.from('{"matches":[]}'),
    ...overrides,
  });
}

function rejectsField(req: SubmitAnalysisRequest, field: string): void {
  assert.throws(
    () => validateSubmit(req),
    (err: unknown) => {
      assert.ok(err instanceof InvalidFieldError, String(err));
      assert.ok(err.message.includes(field), `message names ${field}: ${err.message}`);
      return true;
    },
  );
}

describe("SubmitAnalysis validation", () => {
  it("applies the seeds' defaults: timeout 300, fuzzing and profiling on, organization default", () => {
    const v = validateSubmit(request());
    assert.equal(v.config.testTimeoutSeconds, 300);
    assert.equal(v.config.enableFuzzing, true);
    assert.equal(v.config.enableProfiling, true);
    assert.equal(v.organizationId, "default");
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.config));
  });

  it("rejects a digest that is not sha256 + 64 lowercase hex, naming image_digest", () => {
    rejectsField(request({ imageDigest: "sha256:abc" }), "image_digest");
    rejectsField(request({ imageDigest: `sha256:${"A".repeat(64)}` }), "image_digest");
    rejectsField(request({ imageDigest: `sha512:${"a".repeat(64)}` }), "image_digest");
  });

  it("rejects timeouts outside 60..900 and accepts both bounds", () => {
    for (const t of [59, 901, 0]) {
      if (t === 0) continue; // unset means the default
      rejectsField(request({ config: { testTimeoutSeconds: t, testScript: "", ports: [], environment: {} } }), "config.test_timeout_seconds");
    }
    for (const t of [60, 900]) {
      assert.equal(validateSubmit(request({ config: { testTimeoutSeconds: t, testScript: "", ports: [], environment: {} } })).config.testTimeoutSeconds, t);
    }
  });

  it("rejects an empty or transport-less image_ref, naming image_ref", () => {
    rejectsField(request({ imageRef: "  " }), "image_ref");
    rejectsField(request({ imageRef: "/some/path" }), "image_ref");
  });

  it("rejects a missing or non-JSON vulnerability report, naming vulnerability_report", () => {
    rejectsField(request({ vulnerabilityReport: new Uint8Array() }), "vulnerability_report");
    rejectsField(request({ vulnerabilityReport: Buffer.from("not json") }), "vulnerability_report");
  });

  it("rejects a Grype report with a field of the wrong type, naming that field (matches[3].artifact.version)", () => {
    const match = (version: unknown) => ({ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version, type: "deb" } });
    const report = { matches: [match("1.0"), match("1.1"), match("1.2"), match(3)] };
    assert.throws(
      () => validateSubmit(request({ vulnerabilityReport: Buffer.from(JSON.stringify(report)) })),
      (err: unknown) => {
        assert.ok(err instanceof InvalidFieldError, String(err));
        assert.equal(err.field, "vulnerability_report.matches[3].artifact.version");
        assert.match(err.message, /^vulnerability_report\.matches\[3\]\.artifact\.version: must be a string \(got number\)/);
        return true;
      },
    );
  });

  it("rejects a report of no known format (CycloneDX, a JSON array) and a Trivy result without a package name, naming the field", () => {
    rejectsField(request({ vulnerabilityReport: Buffer.from('{"bomFormat":"CycloneDX","components":[]}') }), "vulnerability_report.matches");
    rejectsField(request({ vulnerabilityReport: Buffer.from("[]") }), "vulnerability_report");
    const trivy = {
      SchemaVersion: 2,
      ArtifactName: "x",
      Results: [{ Type: "debian", Vulnerabilities: [{ VulnerabilityID: "CVE-1", InstalledVersion: "1" }] }],
    };
    rejectsField(request({ vulnerabilityReport: Buffer.from(JSON.stringify(trivy)) }), "vulnerability_report.Results[0].Vulnerabilities[0].PkgName");
  });

  it("accepts the demo image's Grype report and counts its findings", () => {
    const demo = readFileSync(new URL("../../../deploy/local/demo-image/scan.grype.json", import.meta.url));
    assert.ok(validateSubmit(request({ vulnerabilityReport: demo })).findingCount > 0);
    assert.equal(validateSubmit(request()).findingCount, 0);
  });

  it("rejects bad ports and environment names, naming the field", () => {
    rejectsField(request({ config: { ports: [70000], testScript: "", environment: {} } }), "config.ports[0]");
    rejectsField(request({ config: { ports: [], testScript: "", environment: { "BAD-NAME": "x" } } }), "config.environment");
  });

  it("accepts an https callback_url and refuses one that is not an http(s) URL or carries credentials, naming callback_url", () => {
    assert.equal(validateSubmit(request({ callbackUrl: "https://hooks.example.com/vexxy" })).callbackUrl, "https://hooks.example.com/vexxy");
    rejectsField(request({ callbackUrl: "not a url" }), "callback_url");
    rejectsField(request({ callbackUrl: "ftp://hooks.example.com/x" }), "callback_url");
    rejectsField(request({ callbackUrl: "https://user:pw@hooks.example.com/x" }), "callback_url");
    rejectsField(request({ callbackUrl: `https://hooks.example.com/${"a".repeat(2100)}` }), "callback_url");
  });
});
