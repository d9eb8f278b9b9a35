import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ConfidenceFactorSchema, EvidenceSchema, VerdictSchema, VexJustification, VexStatus } from "@vexxy/proto";
import {
  InvalidVexDocumentError,
  OpenVexWriter,
  UnsupportedVexFormatError,
  openVexProblems,
  produceVex,
  subcomponentPurl,
  supportedVexFormats,
  vexWriter,
  type VexInput,
} from "../src/lib.js";
import { DIGEST_HEX, SETTINGS, fixture, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

type Statement = Record<string, unknown> & {
  products: { "@id": string; identifiers: { purl: string }; subcomponents: { "@id": string; identifiers: { purl: string } }[] }[];
};

const PRODUCT = `pkg:oci/demo-image@sha256%3A${DIGEST_HEX}`;
const PRODUCTS = [PRODUCT, `${PRODUCT}?repository_url=ghcr.io/example/demo-image`, `${PRODUCT}?repository_url=ghcr.io/example`];

function input(verdicts = sampleVerdicts()): VexInput {
  return {
    documentId: "https://vexxy.dev/vex/job-1/1",
    author: "VEXxy test",
    timestamp: new Date("2026-01-02T03:04:05Z"),
    products: PRODUCTS,
    verdicts,
    tooling: "test",
  };
}

describe("OpenVEX v0.2.0 writer", () => {
  it("writes a document that validates against the official schema, with @context v0.2.0, @id, author, role, timestamp, version 1 and tooling", () => {
    const written = new OpenVexWriter().write(input());
    assert.deepEqual(openVexProblems(JSON.parse(written.json)), []);
    const doc = written.document;
    assert.equal(doc["@context"], "https://openvex.dev/ns/v0.2.0");
    assert.equal(doc["@id"], "https://vexxy.dev/vex/job-1/1");
    assert.equal(doc["author"], "VEXxy test");
    assert.equal(doc["role"], "Runtime reachability analysis");
    assert.equal(doc["timestamp"], "2026-01-02T03:04:05.000Z");
    assert.equal(doc["version"], 1);
    assert.equal(doc["tooling"], "test");
    assert.deepEqual(JSON.parse(written.json), doc);
  });

  it("writes one statement per verdict naming every image purl as a product, with a versionless qualifier-free package purl and the scan's purl, unchanged, as subcomponents", () => {
    const verdicts = sampleVerdicts();
    const statements = new OpenVexWriter().write(input(verdicts)).document["statements"] as Statement[];
    assert.equal(statements.length, verdicts.length);
    statements.forEach((s, i) => {
      assert.deepEqual(
        s.products.map((p) => p["@id"]),
        PRODUCTS,
      );
      assert.deepEqual(
        s.products.map((p) => p.identifiers.purl),
        PRODUCTS,
      );
      assert.equal(s.products[0]?.subcomponents[1]?.["@id"], verdicts[i]?.packagePurl);
      assert.equal(s.products[0]?.subcomponents[1]?.identifiers.purl, verdicts[i]?.packagePurl);
    });
    assert.deepEqual(
      statements[0]?.products[0]?.subcomponents.map((c) => c["@id"]),
      ["pkg:deb/debian/tar", "pkg:deb/debian/tar@1.34+dfsg-1.2?arch=amd64&distro=debian-12"],
    );
  });

  it("states each status with what the schema and go-vex allow: not_affected with justification and impact_statement, affected with action_statement and status_notes, under_investigation with status_notes", () => {
    const [affected, notAffected, absent, unknown] = new OpenVexWriter().write(input()).document["statements"] as Statement[];
    assert.equal(affected?.["status"], "affected");
    assert.match(String(affected?.["action_statement"]), /Update tar/);
    assert.match(String(affected?.["status_notes"]), /executed \/usr\/bin\/tar 3 times/);
    assert.equal(affected?.["justification"], undefined);
    assert.equal(affected?.["impact_statement"], undefined);

    assert.equal(notAffected?.["status"], "not_affected");
    assert.equal(notAffected?.["justification"], "vulnerable_code_not_in_execute_path");
    assert.match(String(notAffected?.["impact_statement"]), /No file of apt was opened.*Evidence: no_file_touched 43 files owned\.$/);
    assert.equal(notAffected?.["action_statement"], undefined);
    assert.equal(notAffected?.["status_notes"], "confidence 0.80.");
    assert.equal(absent?.["justification"], "component_not_present");

    assert.equal(unknown?.["status"], "under_investigation");
    assert.match(String(unknown?.["status_notes"]), /not catalogued/);
    assert.deepEqual(unknown?.["vulnerability"], { name: "GHSA-35jh-r3h4-6jhm", aliases: ["CVE-2021-23337"] });
    for (const key of ["justification", "impact_statement", "action_statement"]) assert.equal(unknown?.[key], undefined, key);
  });

  it("writes the score and its factors in status_notes on every statement, the evidence in words in impact_statement for not_affected, and stays schema-valid", () => {
    const factors = (effects: Record<string, [string, number]>) =>
      Object.entries(effects).map(([name, [value, effect]]) => create(ConfidenceFactorSchema, { name, value, effect, detail: `${name} detail` }));
    const run = {
      trace_completeness: ["complete", 0],
      exercise_duration: ["42.0 s", 0.15],
      exit_status: ["exit 0", 0.1],
      test_script: ["passed", 0.05],
      routes_hit: ["not measured", 0],
      package_coverage: ["12% of packages", 0.072],
    } as const satisfies Record<string, [string, number]>;
    const [affected, notAffected, absent, unknown] = sampleVerdicts();
    assert.ok(affected !== undefined && notAffected !== undefined && absent !== undefined && unknown !== undefined);
    notAffected.confidence = 0.872;
    notAffected.factors = factors({ evidence_kind: ["none of 37 files used", 0.5], ...run, catalogue_completeness: ["complete", 0] });
    notAffected.reason = "apt 2.6.1 is installed (37 listed files), but none of its files was opened or executed during a complete bpftrace trace";
    notAffected.evidence = [create(EvidenceSchema, { kind: "no_file_touched", detail: "none of 37 listed files among 120 traced files" })];
    affected.factors = factors({ evidence_kind: ["code executed", 0.95], ...run, catalogue_completeness: ["complete", 0] });
    absent.confidence = 0.9;
    absent.factors = factors({ evidence_kind: ["package absent", 0.95], ...run, catalogue_completeness: ["gaps: ecosystems not catalogued: npm", -0.05] });
    unknown.factors = factors({
      evidence_kind: ["none: ecosystem not catalogued", 0.1],
      ...run,
      catalogue_completeness: ["incomplete for this package: npm", 0],
    });

    const written = new OpenVexWriter().write(input([affected, notAffected, absent, unknown]));
    assert.deepEqual(openVexProblems(JSON.parse(written.json)), []);
    const [a, n, c, u] = written.document["statements"] as Statement[];
    assert.equal(
      n?.["status_notes"],
      "confidence 0.87: evidence none of 37 files used (+0.50), trace complete, exercised 42.0 s (+0.15), exit 0 (+0.10), test script passed (+0.05), routes hit not measured, coverage 12% of packages (+0.07), catalogue complete.",
    );
    assert.equal(
      n?.["impact_statement"],
      "apt 2.6.1 is installed (37 listed files), but none of its files was opened or executed during a complete bpftrace trace. Evidence: no_file_touched none of 37 listed files among 120 traced files.",
    );
    assert.doesNotMatch(String(n?.["impact_statement"]), /confidence/i);
    assert.match(
      String(c?.["status_notes"]),
      /^confidence 0\.90: evidence package absent \(\+0\.95\), .*catalogue gaps: ecosystems not catalogued: npm \(-0\.05\)\.$/,
    );
    assert.match(String(c?.["impact_statement"]), /curl is not installed/);
    // affected and under_investigation may not carry impact_statement: the evidence follows the factors.
    assert.match(
      String(a?.["status_notes"]),
      /^confidence 0\.95: evidence code executed \(\+0\.95\), .*\. tar was executed during the run\. Evidence: executed \/usr\/bin\/tar 3 times\.$/,
    );
    assert.equal(a?.["impact_statement"], undefined);
    assert.match(String(u?.["status_notes"]), /^confidence 0\.20: evidence none: ecosystem not catalogued \(\+0\.10\), .*npm packages are not catalogued\./);
    assert.equal(u?.["impact_statement"], undefined);
  });

  it("rejects a not_affected verdict without a justification with InvalidVexDocumentError", () => {
    const unjustified = create(VerdictSchema, {
      vulnerabilityId: "CVE-2024-0001",
      packageName: "zlib",
      packagePurl: "pkg:deb/debian/zlib1g@1.2.13",
      status: VexStatus.NOT_AFFECTED,
      reason: "not touched",
      evidence: [{ kind: "no_file_touched" }],
    });
    assert.throws(
      () => new OpenVexWriter().write(input([...sampleVerdicts(), unjustified])),
      (error: unknown) => {
        assert.ok(error instanceof InvalidVexDocumentError);
        assert.match(error.message, /statements\/4 \(CVE-2024-0001 in zlib\) is not_affected without a justification/);
        return true;
      },
    );
  });

  it("rejects a not_affected verdict with neither reason nor evidence, an empty vulnerability id, and a job without verdicts", () => {
    const bare = create(VerdictSchema, {
      vulnerabilityId: "CVE-2024-0002",
      packagePurl: "pkg:npm/x@1",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.COMPONENT_NOT_PRESENT,
    });
    assert.throws(() => new OpenVexWriter().write(input([bare])), /without any evidence/);
    const anonymous = create(VerdictSchema, { packagePurl: "pkg:npm/x@1", status: VexStatus.AFFECTED, reason: "ran" });
    assert.throws(() => new OpenVexWriter().write(input([anonymous])), /no vulnerability id/);
    assert.throws(
      () => new OpenVexWriter().write(input([])),
      (error: unknown) => error instanceof InvalidVexDocumentError && /at least one statement/.test(error.message),
    );
  });

  it("throws InvalidVexDocumentError rather than emit a document the schema refuses (a date-time that is not one)", () => {
    const writer = new OpenVexWriter();
    assert.throws(() => writer.write({ ...input(), timestamp: new Date(Number.NaN) }), RangeError);
    assert.throws(() => writer.write({ ...input(), products: [""] }), InvalidVexDocumentError);
    assert.throws(() => writer.write({ ...input(), products: [] }), InvalidVexDocumentError);
  });

  it("reports the schema's and go-vex's rules for hand-made documents: justification outside not_affected, affected without action_statement, an unknown field", () => {
    const base = {
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "urn:uuid:8c4c2f47-5d1f-4a62-9d59-0f8d4c6a1f00",
      author: "a",
      timestamp: "2026-01-01T00:00:00Z",
      version: 1,
    };
    const product = [{ "@id": "pkg:oci/x@sha256%3Aab" }];
    assert.deepEqual(
      openVexProblems({
        ...base,
        statements: [{ vulnerability: { name: "CVE-1" }, products: product, status: "not_affected", justification: "component_not_present" }],
      }),
      [],
    );
    assert.ok(openVexProblems({ ...base, statements: [{ vulnerability: { name: "CVE-1" }, products: product, status: "not_affected" }] }).length > 0);
    assert.ok(openVexProblems({ ...base, statements: [{ vulnerability: { name: "CVE-1" }, products: product, status: "affected" }] }).length > 0);
    assert.match(
      openVexProblems({
        ...base,
        statements: [
          { vulnerability: { name: "CVE-1" }, products: product, status: "affected", action_statement: "x", justification: "component_not_present" },
        ],
      }).join(),
      /not_affected only/,
    );
    assert.match(
      openVexProblems({
        ...base,
        statements: [{ vulnerability: { name: "CVE-1" }, products: product, status: "under_investigation", action_statement: "x" }],
      }).join(),
      /affected only/,
    );
    assert.ok(openVexProblems({ ...base, supplier: "x", statements: [{ vulnerability: { name: "CVE-1" }, products: product, status: "fixed" }] }).length > 0);
  });

  it("accepts the OpenVEX project's own v0.2.0 examples (go-vex test data, vexctl demo)", () => {
    assert.deepEqual(openVexProblems(JSON.parse(fixture("go-vex_testdata_v0.2.0.json"))), []);
    assert.deepEqual(openVexProblems(JSON.parse(fixture("vexctl_examples_demo.vex.json"))), []);
  });

  it("builds a subcomponent purl from the scan's type, name and version only when the scan gave none", () => {
    const v = (packageType: string, packageName: string, packageVersion: string, packagePurl = "") =>
      create(VerdictSchema, { packageType, packageName, packageVersion, packagePurl });
    assert.equal(subcomponentPurl(v("deb", "tar", "1.34", "pkg:deb/debian/tar@1.34?arch=amd64")), "pkg:deb/debian/tar@1.34?arch=amd64");
    assert.equal(subcomponentPurl(v("npm", "@babel/core", "7.0.0")), "pkg:npm/%40babel/core@7.0.0");
    assert.equal(subcomponentPurl(v("python", "Django", "4.2")), "pkg:pypi/django@4.2");
    assert.equal(subcomponentPurl(v("binary", "busybox", "1.36")), "pkg:generic/busybox@1.36");
  });

  it("writes identical statements once (the schema wants them unique)", () => {
    const [first] = sampleVerdicts();
    assert.ok(first !== undefined);
    const statements = new OpenVexWriter().write(input([first, create(VerdictSchema, first)])).document["statements"] as Statement[];
    assert.equal(statements.length, 1);
  });

  it("registers the OpenVEX and CycloneDX writers; another format is refused with UnsupportedVexFormatError", () => {
    assert.deepEqual(supportedVexFormats(), ["openvex", "cyclonedx"]);
    assert.equal(vexWriter("openvex").format, "openvex");
    assert.equal(vexWriter("cyclonedx").format, "cyclonedx");
    assert.throws(() => vexWriter("spdx"), UnsupportedVexFormatError);
  });

  it("gives each job attempt its own stable document id under VEX_ID_BASE", () => {
    const a = produceVex(sampleJob(), sampleVerdicts(), freshKey(), SETTINGS);
    const b = produceVex(sampleJob(), sampleVerdicts(), freshKey(), SETTINGS);
    const c = produceVex(sampleJob({ attempt: 2 }), sampleVerdicts(), freshKey(), SETTINGS);
    assert.equal(a.documentId, "https://vexxy.dev/vex/0b0e7a4e-0000-4000-8000-000000000001/1");
    assert.equal(a.documentId, b.documentId);
    assert.notEqual(a.documentId, c.documentId);
    assert.equal(a.productPurl, PRODUCT);
  });
});
