/**
 * Evidence and ConfidenceFactor messages made by copying a zero message, for the verdict list
 * (20,000 verdicts carry some 400,000 of them). create() walks the schema for each one; these two
 * messages have only scalar fields, so a copy of the zero message with the fields set is the very
 * object create() returns (same fields, same order), at a fraction of the cost. A test checks
 * both against create() and fails if either schema gains a field that is not a scalar, which a
 * copy would share between messages.
 */
import { create } from "@bufbuild/protobuf";
import { ConfidenceFactorSchema, EvidenceSchema, type ConfidenceFactor, type Evidence } from "@vexxy/proto";

/** The fields of an Evidence message. */
export interface EvidenceFields {
  readonly kind: string;
  readonly path: string;
  readonly detail: string;
}

/** The fields of a ConfidenceFactor message. */
export interface FactorFields {
  readonly name: string;
  readonly value: string;
  readonly effect: number;
  readonly detail: string;
}

const ZERO_EVIDENCE: Evidence = Object.freeze(create(EvidenceSchema));
const ZERO_FACTOR: ConfidenceFactor = Object.freeze(create(ConfidenceFactorSchema));

/** A new Evidence message with these fields (equal to create(EvidenceSchema, fields)). */
export function evidenceMessage(fields: EvidenceFields): Evidence {
  return { ...ZERO_EVIDENCE, kind: fields.kind, path: fields.path, detail: fields.detail };
}

/** A new ConfidenceFactor message with these fields (equal to create(ConfidenceFactorSchema, fields)). */
export function factorMessage(fields: FactorFields): ConfidenceFactor {
  return { ...ZERO_FACTOR, name: fields.name, value: fields.value, effect: fields.effect, detail: fields.detail };
}
