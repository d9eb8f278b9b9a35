import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { noopLogger, toConnectError } from "@vexxy/platform";
import { ScanFormatError, parseVulnerabilityReport } from "@vexxy/scan-report";
import { fixture, grypeMatch } from "./helpers.js";

function rejects(input: string, field: string): void {
  assert.throws(
    () => parseVulnerabilityReport(input),
    (error: unknown) => {
      assert.ok(error instanceof ScanFormatError, `a ScanFormatError, got ${String(error)}`);
      assert.equal(error.field, field);
      assert.ok(error.message.startsWith(`${field}:`), error.message);
      return true;
    },
  );
}

describe("vulnerability report parsing", () => {
  it("reads Grype's own JSON snapshot: ids, severities, types, an empty purl kept empty, locations", () => {
    const report = parseVulnerabilityReport(fixture("grype-json-imgs.golden.json"));
    assert.equal(report.format, "grype");
    assert.equal(report.findings.length, 2);
    const [first, second] = report.findings;
    assert.deepEqual(
      {
        id: first?.vulnerabilityId,
        severity: first?.severity,
        name: first?.pkg.name,
        version: first?.pkg.version,
        type: first?.pkg.type,
        purl: first?.pkg.purl,
        locations: first?.pkg.locations,
      },
      { id: "CVE-1999-0001", severity: "Low", name: "package-1", version: "1.1.1", type: "rpm", purl: "", locations: ["/foo/bar/somefile-1.txt"] },
    );
    assert.equal(second?.pkg.purl, "pkg:deb/package-2@2.2.2");
    assert.equal(second?.pkg.type, "deb");
  });

  it("turns relatedVulnerabilities into aliases, without repeating the match's own id", () => {
    const doc = {
      matches: [grypeMatch("GHSA-35jh-r3h4-6jhm", "lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20", ["CVE-2021-23337", "GHSA-35jh-r3h4-6jhm"])],
    };
    const [finding] = parseVulnerabilityReport(JSON.stringify(doc)).findings;
    assert.deepEqual(finding?.aliases, ["CVE-2021-23337"]);
  });

  it("reads the demo image's bundled Grype report", () => {
    const report = parseVulnerabilityReport(fixture("../../../../deploy/local/demo-image/scan.grype.json"));
    assert.equal(report.format, "grype");
    assert.ok(report.findings.some((f) => f.vulnerabilityId === "CVE-2005-2541" && f.pkg.name === "tar"));
  });

  it("reads Trivy JSON too, mapping the target type debian to deb and keeping PkgIdentifier.PURL", () => {
    const report = parseVulnerabilityReport(fixture("trivy-debian-buster.json.golden.json"));
    assert.equal(report.format, "trivy");
    assert.ok(report.findings.length > 0);
    const bash = report.findings.find((f) => f.pkg.name === "bash");
    assert.equal(bash?.pkg.type, "deb");
    assert.equal(bash?.pkg.purl, "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10.1");
    assert.equal(bash?.pkg.version, "5.0-4");
  });

  it("accepts a Grype report with no matches as an empty report", () => {
    assert.deepEqual(parseVulnerabilityReport('{"matches":[]}').findings, []);
  });

  it("rejects bytes that are not JSON naming vulnerability_report", () => {
    rejects("not json {", "vulnerability_report");
  });

  it("rejects a JSON array naming vulnerability_report", () => {
    rejects("[]", "vulnerability_report");
  });

  it("rejects a JSON object of no known format naming vulnerability_report.matches", () => {
    rejects('{"bomFormat":"CycloneDX","components":[]}', "vulnerability_report.matches");
  });

  it("rejects matches that are not an array naming vulnerability_report.matches", () => {
    rejects('{"matches":{"a":1}}', "vulnerability_report.matches");
  });

  it("rejects a match without an artifact name naming that match's field", () => {
    const doc = { matches: [grypeMatch("CVE-1", "a", "1"), { vulnerability: { id: "CVE-2" }, artifact: { version: "1", type: "deb" } }] };
    rejects(JSON.stringify(doc), "vulnerability_report.matches[1].artifact.name");
  });

  it("rejects a match without a vulnerability id naming vulnerability_report.matches[0].vulnerability.id", () => {
    rejects(
      JSON.stringify({ matches: [{ vulnerability: { id: "" }, artifact: { name: "a", type: "deb" } }] }),
      "vulnerability_report.matches[0].vulnerability.id",
    );
  });

  it("rejects an artifact with neither type nor purl, since its ecosystem cannot be known", () => {
    rejects(
      JSON.stringify({ matches: [{ vulnerability: { id: "CVE-1" }, artifact: { name: "a", version: "1", type: "", purl: "" } }] }),
      "vulnerability_report.matches[0].artifact.type",
    );
  });

  it("rejects a relatedVulnerabilities entry without an id naming it", () => {
    const doc = { matches: [{ ...grypeMatch("CVE-1", "a", "1"), relatedVulnerabilities: [{ namespace: "nvd" }] }] };
    rejects(JSON.stringify(doc), "vulnerability_report.matches[0].relatedVulnerabilities[0].id");
  });

  it("becomes InvalidArgument with the field-naming message at an RPC edge", () => {
    let caught: unknown;
    try {
      parseVulnerabilityReport('{"matches":"x"}');
    } catch (error) {
      caught = error;
    }
    const connect = toConnectError(caught, noopLogger);
    assert.equal(connect.code, Code.InvalidArgument);
    assert.match(connect.rawMessage, /^vulnerability_report\.matches: /);
  });
});
