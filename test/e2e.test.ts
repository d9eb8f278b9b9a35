import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, GetAnalysisResultsRequestSchema } from "@vexxy/proto";
import { demoSubmit, watchToEnd, useMesh } from "./support/mesh.js";
import { openVexSchemaErrors, verifyBundleIndependently } from "./support/vex-checks.js";

describe("end to end: the demo image through the real mesh", function () {
  this.timeout(600000);
  const mesh = useMesh();

  it("submits over grpc-js, completes, and returns a signed, schema-valid OpenVEX with the expected verdicts", async () => {
    const submitted = await mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo));
    assert.equal(submitted.status, AnalysisStatus.QUEUED);
    assert.equal(submitted.imageDigest, mesh.demo.imageDigest);
    assert.equal(submitted.estimatedDurationMinutes, 10);

    const updates = await watchToEnd(mesh.client, submitted.jobId);
    const last = updates.at(-1);
    assert.equal(last?.status, AnalysisStatus.COMPLETE, `ended ${last ? AnalysisStatus[last.status] : "?"}: ${last?.errorMessage}`);
    const progress = updates.map((u) => u.progressPercent);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
      "progress never goes back",
    );
    assert.equal(last?.progressPercent, 100);
    assert.ok(
      updates.some((u) => u.status === AnalysisStatus.RUNNING),
      "the watch saw the RUNNING state",
    );

    const results = await mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId }));
    const statement = verifyBundleIndependently(results.vexBundle, results.signingPublicKeyPem);
    assert.equal(statement.predicateType, "https://openvex.dev/ns");
    assert.equal(`sha256:${statement.subject[0]?.digest["sha256"]}`, mesh.demo.imageDigest);
    const doc = JSON.parse(results.vexDocument) as {
      "@context": string;
      "@id": string;
      statements: {
        vulnerability: { name: string };
        status: string;
        justification?: string;
        products: { "@id"?: string; identifiers?: { purl?: string }; subcomponents?: { "@id"?: string; identifiers?: { purl?: string } }[] }[];
      }[];
    };
    assert.deepEqual(openVexSchemaErrors(doc), []);
    assert.deepEqual(statement.predicate, doc, "the signed predicate is the returned document");
    assert.equal(doc["@context"], "https://openvex.dev/ns/v0.2.0");
    assert.equal(doc["@id"], results.generatedVexId);
    const productPurl = doc.statements[0]?.products[0]?.identifiers?.purl ?? doc.statements[0]?.products[0]?.["@id"] ?? "";
    assert.match(productPurl, new RegExp(`^pkg:oci/[^@]+@sha256%3A${mesh.demo.imageDigest.slice(7)}`));

    const profile = results.executionProfile;
    assert.ok(profile?.traceComplete, `trace complete (loss: ${profile?.lossReasons.join(",")})`);
    assert.ok((profile?.filesAccessed ?? 0) > 0 && (profile?.executablesRun ?? 0) > 0);

    assert.ok(mesh.demo.expected.length >= 4, "the mesh.demo declares its expected verdicts");
    for (const want of mesh.demo.expected) {
      const got = results.reachabilityResults.find((r) => r.cveId === want.vulnerability && r.packageName === want.package);
      assert.ok(got !== undefined, `a result for ${want.vulnerability} in ${want.package}`);
      assert.equal(got.status, want.status, `${want.vulnerability}/${want.package}: ${got.reason}`);
      if (want.justification !== undefined) assert.equal(got.justification, want.justification, `${want.vulnerability}/${want.package}`);
      const st = doc.statements.find(
        (s) =>
          s.vulnerability.name === want.vulnerability &&
          s.products.some((p) => (p.subcomponents ?? []).some((c) => (c.identifiers?.purl ?? c["@id"] ?? "") === got.packagePurl)),
      );
      assert.ok(st !== undefined, `the VEX has a statement for ${want.vulnerability} on ${got.packagePurl}`);
      assert.equal(st.status, want.status);
    }
    const statuses = new Set(results.reachabilityResults.map((r) => `${r.status}/${r.justification}`));
    for (const needed of ["affected/", "not_affected/vulnerable_code_not_in_execute_path", "not_affected/component_not_present", "under_investigation/"]) {
      assert.ok(statuses.has(needed), `at least one ${needed} verdict (got ${[...statuses].join(", ")})`);
    }
  });
});
