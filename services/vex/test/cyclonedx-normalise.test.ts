import assert from "node:assert/strict";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { newBom, packageComponent, plainJson, serialiseBom } from "../src/writers/cyclonedx-common.js";
import { cycloneDxProblems, productIdentity, vexWriter, type VexInput } from "../src/lib.js";
import { SETTINGS, sampleJob, sampleVerdicts } from "./helpers.js";

function input(): VexInput {
  return {
    documentId: "https://vexxy.dev/vex/normalise/1",
    author: SETTINGS.author,
    timestamp: new Date("2026-12-02T00:00:00Z"),
    products: productIdentity(sampleJob()).products,
    verdicts: sampleVerdicts(),
    tooling: SETTINGS.tooling,
  };
}

describe("CycloneDX documents taken from the library's normaliser without the JSON text round trip", () => {
  it("serialiseBom's document equals the library's serialised JSON parsed again (dependencies left out), with no undefined left in it", () => {
    const bom = newBom(input(), "urn:uuid:6ba7b811-9dad-51d1-80b4-00c04fd430c8", Enums.LifecyclePhase.Operations);
    const components = sampleVerdicts().map((v) => packageComponent(v.packagePurl, v));
    for (const c of components) bom.components.add(c);
    const vuln = new Models.Vulnerability.Vulnerability({
      bomRef: "vexxy:vulnerability/0",
      id: "CVE-2011-3374",
      analysis: new Models.Vulnerability.Analysis({
        state: Enums.Vulnerability.AnalysisState.NotAffected,
        justification: Enums.Vulnerability.AnalysisJustification.CodeNotReachable,
        detail: "not used",
      }),
    });
    vuln.affects.add(new Models.Vulnerability.Affect(components[1]?.bomRef ?? new Models.BomRef("x")));
    bom.vulnerabilities.add(vuln);
    const viaText = JSON.parse(
      new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6)).serialize(bom, { sortLists: false }),
    ) as Record<string, unknown>;
    delete viaText["dependencies"];
    const { document, json } = serialiseBom(bom);
    assert.deepEqual(document, viaText);
    assert.deepEqual(JSON.parse(json), document);
    assert.equal(JSON.stringify(document), JSON.stringify(viaText));
  });

  it("plainJson gives JSON.parse(JSON.stringify(x)) for plain trees and for what needs the text round trip", () => {
    const date = new Date("2026-12-02T00:00:00Z");
    const cases: unknown[] = [
      { a: undefined, b: [undefined, () => 1, Symbol("s"), Number.NaN, -0, 1.5], c: { d: null, e: "x" }, f: true },
      { when: date, nested: { toJSON: () => "custom" } },
      [new Map([["k", 1]]), new Set([1])],
      JSON.parse('{"__proto__": {"polluted": true}, "x": 1}'),
    ];
    for (const value of cases) assert.equal(JSON.stringify(plainJson(value)), JSON.stringify(JSON.parse(JSON.stringify(value))));
    const proto = plainJson(JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(proto), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.throws(() => plainJson({ big: 1n }), TypeError);
  });

  it("the validator names both places of a repeated bom-ref by their JSON pointers, nested components included", () => {
    const doc = structuredClone(vexWriter("cyclonedx").write(input()).document) as {
      components: { "bom-ref": string; components?: unknown[] }[];
      vulnerabilities: { "bom-ref": string }[];
    };
    const first = doc.components[0];
    const second = doc.components[1];
    assert.ok(first !== undefined && second !== undefined);
    second.components = [{ type: "library", name: "inner", "bom-ref": first["bom-ref"] }];
    const vuln = doc.vulnerabilities[1];
    assert.ok(vuln !== undefined);
    vuln["bom-ref"] = "vexxy:tool";
    assert.deepEqual(
      cycloneDxProblems(doc).filter((p) => p.includes("is also the bom-ref of")),
      [
        `/components/1/components/0/bom-ref ${JSON.stringify(first["bom-ref"])} is also the bom-ref of /components/0`,
        '/vulnerabilities/1/bom-ref "vexxy:tool" is also the bom-ref of /metadata/tools/components/0',
      ],
    );
  });
});
