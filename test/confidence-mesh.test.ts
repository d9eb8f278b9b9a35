import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, GetAnalysisResultsRequestSchema } from "@vexxy/proto";
import { apiClient, demoInput, demoSubmit, startMesh, watchToEnd, type MeshContext } from "./support/mesh.js";
import { openVexSchemaErrors } from "./support/vex-checks.js";

const FACTORS = [
  "evidence_kind",
  "trace_completeness",
  "exercise_duration",
  "exit_status",
  "test_script",
  "routes_hit",
  "package_coverage",
  "catalogue_completeness",
];

describe("confidence factors through the real mesh", function () {
  this.timeout(600000);
  const mesh = {} as MeshContext;
  // Longer start-up and tracer attach allowances than useMesh's: the services compile on start and this machine is shared.
  before(async () => {
    mesh.demo = await demoInput();
    mesh.stack = await startMesh({ startTimeoutMs: 300000, commonEnv: { TRACE_ATTACH_TIMEOUT_MS: "60000" } });
    mesh.client = apiClient(mesh.stack);
  });
  after(async () => {
    mesh.client?.close();
    await mesh.stack?.stop();
  });

  it("returns every result with its eight factors, the test script's pass among them, and writes score and factors in the OpenVEX status_notes", async () => {
    const submitted = await mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { config: { testTimeoutSeconds: 60, testScript: "exit 0" } }));
    const last = (await watchToEnd(mesh.client, submitted.jobId)).at(-1);
    assert.equal(last?.status, AnalysisStatus.COMPLETE, `ended ${last ? AnalysisStatus[last.status] : "?"}: ${last?.errorMessage}`);
    const results = await mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId }));

    assert.ok(results.reachabilityResults.length > 0);
    for (const r of results.reachabilityResults) {
      assert.deepEqual(
        r.confidenceFactors.map((f) => f.name),
        FACTORS,
        `${r.cveId}/${r.packageName}`,
      );
      const routes = r.confidenceFactors.find((f) => f.name === "routes_hit");
      assert.equal(routes?.value, "not measured");
    }
    const untouched = results.reachabilityResults.filter((r) => r.justification === "vulnerable_code_not_in_execute_path");
    assert.ok(untouched.length > 0, "the demo has not_in_execute_path verdicts");
    for (const r of untouched) {
      const script = r.confidenceFactors.find((f) => f.name === "test_script");
      assert.equal(script?.value, "passed", `${r.cveId}/${r.packageName}: ${script?.detail}`);
      assert.equal(script?.effect, 0.05);
      const sum = r.confidenceFactors.reduce((t, f) => t + f.effect, 0);
      assert.equal(r.confidenceScore, Math.round(Math.min(0.9, sum) * 1000) / 1000, `${r.cveId}/${r.packageName}`);
    }

    const doc = JSON.parse(results.vexDocument) as { statements: { status: string; status_notes?: string; impact_statement?: string }[] };
    assert.deepEqual(openVexSchemaErrors(doc), []);
    for (const s of doc.statements) assert.match(s.status_notes ?? "", /^confidence \d\.\d\d: evidence /);
    const notAffected = doc.statements.filter((s) => s.status === "not_affected");
    assert.ok(notAffected.some((s) => /test script passed \(\+0\.05\)/.test(s.status_notes ?? "")));
    for (const s of notAffected) assert.ok((s.impact_statement ?? "").length > 0 && !/^confidence/.test(s.impact_statement ?? ""));
  });
});
