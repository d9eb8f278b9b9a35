import assert from "node:assert/strict";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ConfidenceFactorSchema, EvidenceSchema, VerdictSchema, VexJustification, VexStatus } from "@vexxy/proto";
import { evidenceMessage, factorMessage, verdictMessage } from "../src/verdict/messages.js";

describe("verdict, evidence and factor messages made by copying", () => {
  it("keeps Evidence and ConfidenceFactor all-scalar, so a copied zero message shares nothing between messages", () => {
    for (const schema of [EvidenceSchema, ConfidenceFactorSchema]) {
      for (const field of schema.fields) assert.equal(field.fieldKind, "scalar", `${schema.typeName}.${field.name} is ${field.fieldKind}`);
    }
  });

  it("makes an Evidence message equal to create()'s: same fields in the same order, same JSON and bytes", () => {
    const fields = { kind: "file_read", path: "/usr/lib/x86_64-linux-gnu/libc.so.6", detail: "opened successfully once" };
    const made = evidenceMessage(fields);
    const expected = create(EvidenceSchema, fields);
    assert.deepStrictEqual(made, expected);
    assert.deepEqual(Object.keys(made), Object.keys(expected));
    assert.equal(toJsonString(EvidenceSchema, made), toJsonString(EvidenceSchema, expected));
    assert.deepEqual(toBinary(EvidenceSchema, made), toBinary(EvidenceSchema, expected));
    assert.deepStrictEqual(evidenceMessage({ kind: "", path: "", detail: "" }), create(EvidenceSchema));
  });

  it("makes a ConfidenceFactor message equal to create()'s, and a new object each time", () => {
    const fields = { name: "exercise_duration", value: "42.0 s", effect: 0.15, detail: "0.15 × min(1, seconds / 30)" };
    const made = factorMessage(fields);
    const expected = create(ConfidenceFactorSchema, fields);
    assert.deepStrictEqual(made, expected);
    assert.deepEqual(Object.keys(made), Object.keys(expected));
    assert.deepEqual(toBinary(ConfidenceFactorSchema, made), toBinary(ConfidenceFactorSchema, expected));
    const again = factorMessage(fields);
    assert.notEqual(again, made);
    again.effect = 0;
    assert.equal(made.effect, 0.15);
  });

  it("keeps a Verdict's non-scalar fields to its three lists, which verdictMessage always sets", () => {
    const lists = VerdictSchema.fields.filter((f) => f.fieldKind !== "scalar" && f.fieldKind !== "enum").map((f) => f.localName);
    assert.deepEqual(lists.sort(), ["aliases", "evidence", "factors"]);
  });

  it("makes a Verdict message equal to create()'s, with its own lists", () => {
    const fields = {
      vulnerabilityId: "CVE-2024-0001",
      aliases: ["GHSA-xxxx"],
      packageName: "libc6",
      packageVersion: "2.36-9",
      packagePurl: "pkg:deb/debian/libc6@2.36-9?arch=amd64",
      packageType: "deb",
      severity: "High",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
      reason: "none of its files was used",
      evidence: [evidenceMessage({ kind: "no_file_touched", path: "", detail: "none of 3 files" })],
      confidence: 0.87,
      factors: [factorMessage({ name: "evidence_kind", value: "none of 3 files used", effect: 0.5, detail: "absence of use" })],
    };
    const made = verdictMessage(fields);
    const expected = create(VerdictSchema, fields);
    assert.deepStrictEqual(made, expected);
    assert.deepEqual(Object.keys(made), Object.keys(expected));
    assert.equal(toJsonString(VerdictSchema, made), toJsonString(VerdictSchema, expected));
    assert.deepEqual(toBinary(VerdictSchema, made), toBinary(VerdictSchema, expected));
    const other = verdictMessage({ ...fields, aliases: [], evidence: [], factors: [] });
    other.aliases.push("CVE-x");
    assert.deepEqual(made.aliases, ["GHSA-xxxx"]);
    assert.deepEqual(create(VerdictSchema).aliases, []);
  });
});
