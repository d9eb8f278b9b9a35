import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { cycloneDxProblems, openVexProblems, productIdentity, vexWriter, type VexInput } from "../src/lib.js";
import { canonicalJson, duplicateItems } from "../src/writers/unique-items.js";
import { SETTINGS, sampleJob, sampleVerdicts } from "./helpers.js";

function input(): VexInput {
  const product = productIdentity(sampleJob());
  return {
    documentId: "https://vexxy.dev/vex/unique-items/1",
    author: SETTINGS.author,
    timestamp: new Date("2026-12-02T00:00:00Z"),
    products: product.products,
    verdicts: sampleVerdicts(),
    tooling: SETTINGS.tooling,
  };
}

/** The same JSON value with every object's keys in reverse order. */
function reordered<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reordered) as T;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reordered(v)]),
    ) as T;
  }
  return value;
}

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small JSON value drawn from few choices, so lists of them hold many equal and near-equal items. */
function jsonValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 2 ? 4 : 7));
  switch (pick) {
    case 0:
      return ["a", "b", ""][Math.floor(next() * 3)];
    case 1:
      return [0, 1, 1.5][Math.floor(next() * 3)];
    case 2:
      return [true, null][Math.floor(next() * 2)];
    case 3:
      return { "bom-ref": ["r1", "r2"][Math.floor(next() * 2)] };
    case 4:
      return Array.from({ length: Math.floor(next() * 3) }, () => jsonValue(next, depth + 1));
    default: {
      const keys = ["bom-ref", "id", "status", "x"].filter(() => next() < 0.5);
      const entries = keys.map((k) => [k, jsonValue(next, depth + 1)] as const);
      return Object.fromEntries(next() < 0.5 ? entries : [...entries].reverse());
    }
  }
}

describe("uniqueItems without ajv's pairwise comparison (unique-items.ts)", () => {
  it("reports every item deep-equal to an earlier one, whatever its key order, naming the first occurrence", () => {
    const a = { "bom-ref": "r1", name: "x", nested: { b: 1, a: [1, { c: 2, d: 3 }] } };
    const b = { "bom-ref": "r1", name: "x", nested: { b: 1, a: [1, { c: 2, d: 4 }] } };
    const list = [a, b, reordered(a), { ...b }, "text", reordered(a), "text"];
    assert.deepEqual(duplicateItems(list, "/components", [["bom-ref"], ["name"]]), [
      "/components must NOT have duplicate items (items ## 0 and 2 are identical)",
      "/components must NOT have duplicate items (items ## 1 and 3 are identical)",
      "/components must NOT have duplicate items (items ## 0 and 5 are identical)",
      "/components must NOT have duplicate items (items ## 4 and 6 are identical)",
    ]);
  });

  it("never takes items that share their bucket for duplicates when they differ deeper (a different order of an array is a difference)", () => {
    const list = [
      { id: "CVE-1", affects: [{ ref: "a" }, { ref: "b" }] },
      { id: "CVE-1", affects: [{ ref: "b" }, { ref: "a" }] },
      { id: "CVE-1", affects: [{ ref: "a" }, { ref: "b" }], extra: null },
      { id: "CVE-1" },
    ];
    assert.deepEqual(duplicateItems(list, "/vulnerabilities", [["id"]]), []);
    assert.deepEqual(duplicateItems(list, "/vulnerabilities", []), []);
  });

  it("gives ajv's uniqueItems answer on 2,000 random lists of near-equal JSON values, for any bucket paths", () => {
    const ajv = new Ajv({ strict: false });
    const unique = ajv.compile({ type: "array", uniqueItems: true });
    const next = random(9);
    const pathSets = [
      [],
      [["bom-ref"]],
      [["id"], ["status"]],
      [
        ["x", 0],
        ["x", "bom-ref"],
      ],
    ] as const;
    let duplicated = 0;
    for (let round = 0; round < 2000; round++) {
      const list = Array.from({ length: 1 + Math.floor(next() * 8) }, () => jsonValue(next, 0));
      const expected = unique(list);
      if (!expected) duplicated++;
      for (const paths of pathSets) {
        assert.equal(duplicateItems(list, "/l", paths).length === 0, expected, `${JSON.stringify(list)} bucketed by ${JSON.stringify(paths)}`);
      }
    }
    // The generator makes both kinds of list often, so both answers were exercised.
    assert.ok(duplicated > 200 && duplicated < 1800, `${duplicated} of 2000 lists had a duplicate`);
  });

  it("canonicalJson is equal for deep-equal values and differs otherwise", () => {
    assert.equal(canonicalJson({ b: [1, { y: 1, x: 2 }], a: "s" }), canonicalJson({ a: "s", b: [1, { x: 2, y: 1 }] }));
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
    assert.notEqual(canonicalJson({ 0: 1 }), canonicalJson([1]));
    assert.notEqual(canonicalJson("1"), canonicalJson(1));
  });

  it("openVexProblems refuses a written document with a statement repeated in another key order", () => {
    const written = vexWriter("openvex").write(input());
    const doc = structuredClone(written.document) as { statements: unknown[] };
    assert.deepEqual(openVexProblems(doc), []);
    doc.statements.push(reordered(doc.statements[1]));
    assert.deepEqual(openVexProblems(doc), [`/statements must NOT have duplicate items (items ## 1 and ${doc.statements.length - 1} are identical)`]);
  });

  it("cycloneDxProblems refuses a written VEX with a component or a vulnerability repeated in another key order", () => {
    const written = vexWriter("cyclonedx").write(input());
    assert.deepEqual(cycloneDxProblems(written.document), []);
    const components = structuredClone(written.document) as { components: unknown[] };
    components.components.push(reordered(components.components[0]));
    const problems = cycloneDxProblems(components);
    assert.ok(
      problems.includes(`/components must NOT have duplicate items (items ## 0 and ${components.components.length - 1} are identical)`),
      problems.join("\n"),
    );
    const vulnerabilities = structuredClone(written.document) as { vulnerabilities: unknown[] };
    vulnerabilities.vulnerabilities.push(reordered(vulnerabilities.vulnerabilities[2]));
    assert.ok(
      cycloneDxProblems(vulnerabilities).includes(
        `/vulnerabilities must NOT have duplicate items (items ## 2 and ${vulnerabilities.vulnerabilities.length - 1} are identical)`,
      ),
    );
  });
});
