import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { VerdictSchema, VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import { documentMatches, statementMatches, type VexDocument } from "../src/conformance/go-vex-match.js";
import { openVexProblems, produceVex, signingKeyFrom } from "../src/lib.js";
import { SETTINGS, sampleJob } from "./helpers.js";

function verdicts(n: number): Verdict[] {
  return Array.from({ length: n }, (_, i) =>
    create(VerdictSchema, {
      vulnerabilityId: `CVE-2099-${String(i).padStart(5, "0")}`,
      packageName: `pkg${i % 88}`,
      packageVersion: "1.0",
      packageType: "deb",
      packagePurl: `pkg:deb/debian/pkg${i % 88}@1.0?arch=amd64&distro=debian-12`,
      status: i % 3 === 0 ? VexStatus.AFFECTED : VexStatus.NOT_AFFECTED,
      justification: i % 3 === 0 ? VexJustification.UNSPECIFIED : VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
      confidence: 0.9,
      reason: "synthetic",
    }),
  );
}

describe("vex at scale: 20,000 verdicts", function () {
  this.timeout(300000);

  it("writes, validates, self-checks and signs 20,000 verdicts in linear time (schema uniqueItems and statement lookup no longer quadratic)", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const key = signingKeyFrom(privateKey);
    const time = (n: number): number => {
      const started = Date.now();
      const produced = produceVex(sampleJob(), verdicts(n), key, SETTINGS);
      assert.equal(produced.conformance.notAffected, n - Math.ceil(n / 3));
      assert.equal(produced.conformance.grypeSuppressed, produced.conformance.notAffected);
      return Date.now() - started;
    };
    time(500); // warm-up: schema compiled, code optimised
    const small = time(2500);
    const large = time(20000);
    console.log(`      produceVex: 2,500 verdicts ${small} ms, 20,000 verdicts ${large} ms`);
    // 8x the verdicts: linear is ~8x; the quadratic checks took ~64x (a minute and more at 20,000).
    assert.ok(large < Math.max(small, 200) * 20, `20,000 verdicts took ${large} ms against ${small} ms for 2,500`);
  });

  it("still reports duplicate statements (the schema's uniqueItems), whatever the key order", () => {
    const statement = { vulnerability: { name: "CVE-1" }, products: [{ "@id": "pkg:oci/a@sha256%3Aab" }], status: "under_investigation" };
    const reordered = { status: "under_investigation", products: [{ "@id": "pkg:oci/a@sha256%3Aab" }], vulnerability: { name: "CVE-1" } };
    const doc = {
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://vexxy.dev/vex/x",
      author: "a",
      timestamp: "2026-01-01T00:00:00Z",
      version: 1,
      statements: [statement, { ...statement, vulnerability: { name: "CVE-2" } }, reordered],
    };
    assert.deepEqual(openVexProblems(doc), ["/statements must NOT have duplicate items (items ## 0 and 2 are identical)"]);
    assert.deepEqual(openVexProblems({ ...doc, statements: doc.statements.slice(0, 2) }), []);
  });

  it("documentMatches through its vulnerability index answers as testing every statement does (names, @ids, aliases, order)", () => {
    const product = "pkg:oci/a@sha256%3Aab";
    const doc: VexDocument = {
      timestamp: "2026-01-01T00:00:00Z",
      statements: [
        { vulnerability: { name: "CVE-1" }, products: [{ "@id": product }], status: "affected" },
        { vulnerability: { "@id": "CVE-1", name: "GHSA-x" }, products: [{ "@id": product }], status: "not_affected" },
        { vulnerability: { name: "CVE-2", aliases: ["CVE-1", "CVE-1"] }, products: [{ "@id": product }], status: "fixed", timestamp: "2025-01-01T00:00:00Z" },
        { vulnerability: { name: "CVE-1" }, products: [{ "@id": "pkg:oci/other@sha256%3Acd" }], status: "affected" },
        { vulnerability: { name: "CVE-1" }, products: [{ "@id": product }], status: "under_investigation" },
      ],
    };
    for (const id of ["CVE-1", "GHSA-x", "CVE-2", "CVE-3"]) {
      const brute = (doc.statements ?? []).map((s, index) => ({ index, statement: s })).filter(({ statement }) => statementMatches(statement, id, product, []));
      const got = documentMatches(doc, id, product, []);
      assert.deepEqual(got.map((m) => m.index).sort(), brute.map((m) => m.index).sort(), id);
    }
    assert.deepEqual(
      documentMatches(doc, "CVE-1", product, []).map((m) => m.index),
      [4, 0, 2, 1],
    );
  });
});
