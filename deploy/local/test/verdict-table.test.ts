import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ReachabilityResultSchema, ResultConfidenceFactorSchema } from "@vexxy/proto";
import { renderVerdictTable } from "../src/verdict-table.js";

describe("CLI verdict table", () => {
  it("shows the score in CONF and, under the reason, the factors that moved it", () => {
    const factor = (name: string, value: string, effect: number) => create(ResultConfidenceFactorSchema, { name, value, effect, detail: "d" });
    const result = create(ReachabilityResultSchema, {
      cveId: "CVE-2011-3374",
      packageName: "apt",
      packageVersion: "2.6.1",
      status: "not_affected",
      justification: "vulnerable_code_not_in_execute_path",
      confidenceScore: 0.8,
      reason: "apt is installed, but none of its files was used",
      confidenceFactors: [
        factor("evidence_kind", "none of 37 files used", 0.5),
        factor("trace_completeness", "complete", 0),
        factor("exercise_duration", "20.0 s", 0.1),
        factor("test_script", "failed", -0.1),
        factor("routes_hit", "not measured", 0),
      ],
    });
    const lines = renderVerdictTable([result]).split("\n");
    assert.match(lines[0] ?? "", /^CVE\s+PACKAGE\s+VERSION\s+STATUS\s+JUSTIFICATION\s+CONF$/);
    assert.match(lines[2] ?? "", /^CVE-2011-3374\s+apt\s+2\.6\.1\s+not_affected\s+vulnerable_code_not_in_execute_path\s+0\.80$/);
    assert.equal(lines[3], "    apt is installed, but none of its files was used");
    assert.equal(lines[4], "    confidence: evidence kind none of 37 files used +0.50, exercise duration 20.0 s +0.10, test script failed -0.10");
    assert.equal(renderVerdictTable([result], false).split("\n").length, 3);
    assert.equal(renderVerdictTable([create(ReachabilityResultSchema, { ...result, confidenceFactors: [] })]).split("\n").length, 4);
  });
});
