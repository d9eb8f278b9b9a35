/**
 * Verdict, Evidence and ConfidenceFactor messages made by copying a zero message, for the
 * verdict list (20,000 verdicts carry some 400,000 evidence and factor messages). create() walks
 * the schema for each one; a copy of the zero message with every field set is the very object
 * create() returns (same fields, same order), at a fraction of the cost. Evidence and
 * ConfidenceFactor have only scalar fields; a Verdict's only other fields are its three lists,
 * which verdictMessage always sets to new arrays. messages.test.ts checks all three against
 * create() and fails if a schema gains a field a copy would share between messages.
 */
import { create } from "@bufbuild/protobuf";
import {
  ConfidenceFactorSchema,
  EvidenceSchema,
  VerdictSchema,
  type ConfidenceFactor,
  type Evidence,
  type Verdict,
  type VexJustification,
  type VexStatus,
} from "@vexxy/proto";

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

/** Every field of a Verdict (the lists are taken as they are: pass new arrays). */
export interface VerdictFields {
  readonly vulnerabilityId: string;
  readonly aliases: string[];
  readonly packageName: string;
  readonly packageVersion: string;
  readonly packagePurl: string;
  readonly packageType: string;
  readonly severity: string;
  readonly status: VexStatus;
  readonly justification: VexJustification;
  readonly reason: string;
  readonly evidence: Evidence[];
  readonly confidence: number;
  readonly factors: ConfidenceFactor[];
}

const ZERO_VERDICT: Verdict = Object.freeze(create(VerdictSchema));
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

/** A new Verdict message with these fields (equal to create(VerdictSchema, fields)). */
export function verdictMessage(fields: VerdictFields): Verdict {
  return {
    ...ZERO_VERDICT,
    vulnerabilityId: fields.vulnerabilityId,
    aliases: fields.aliases,
    packageName: fields.packageName,
    packageVersion: fields.packageVersion,
    packagePurl: fields.packagePurl,
    packageType: fields.packageType,
    severity: fields.severity,
    status: fields.status,
    justification: fields.justification,
    reason: fields.reason,
    evidence: fields.evidence,
    confidence: fields.confidence,
    factors: fields.factors,
  };
}
