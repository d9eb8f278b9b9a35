import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { scoreReachability } from "../src/verdict/decide-verdicts.js";
import { EQUIVALENCE_CASES, equivalenceCases, resultJson } from "./equivalence-inputs.js";
import { fixture } from "./helpers.js";

interface GoldenCase {
  readonly name: string;
  readonly verdicts: unknown[];
  readonly summary: unknown;
}

// A refactoring guard, not ground truth: the golden file holds what the engine answered before
// its performance rework (fixtures/make-reach-equivalence.ts); the rules' own tests are elsewhere.
describe("reachability engine equivalence on generated inputs", () => {
  const golden = JSON.parse(gunzipSync(fixture("reach-equivalence.golden.json.gz")).toString("utf8")) as GoldenCase[];
  const cases = equivalenceCases(EQUIVALENCE_CASES);

  it("generates the recorded cases, with every kind of verdict among them", () => {
    assert.deepEqual(
      cases.map((c) => c.name),
      golden.map((g) => g.name),
    );
    const statuses = new Set(golden.flatMap((g) => g.verdicts.map((v) => JSON.stringify((v as { status?: unknown }).status ?? ""))));
    assert.ok(statuses.size >= 3, `statuses seen: ${[...statuses].join(", ")}`);
  });

  for (const [i, c] of cases.entries()) {
    it(`gives the recorded verdicts and summary for ${c.name}`, () => {
      const expected = golden[i];
      assert.ok(expected !== undefined);
      const actual = resultJson(scoreReachability(c));
      assert.equal(actual.verdicts.length, expected.verdicts.length, "verdict count");
      for (const [j, verdict] of actual.verdicts.entries()) assert.deepEqual(verdict, expected.verdicts[j], `verdict ${j}`);
      assert.deepEqual(actual.summary, expected.summary, "summary");
    });
  }
});
