import assert from "node:assert/strict";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ConfidenceFactorSchema, EvidenceSchema } from "@vexxy/proto";
import { evidenceMessage, factorMessage } from "../src/verdict/messages.js";

describe("evidence and factor messages made by copying", () => {
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
});
