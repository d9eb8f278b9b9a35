/**
 * Verification of a signed VEX bundle that says why it fails. The checks, in order, each with
 * the reason code it gives:
 *   1. the text is JSON and a Sigstore bundle holding a DSSE envelope     -> malformed_bundle
 *   2. the bundle's key hint names a trusted key; when it names none, a    -> unknown_key
 *      trusted key whose signature verifies anyway is accepted (a hint is not signed)
 *   3. @sigstore/verify accepts the DSSE signature (PAE over the payload,  -> signature_invalid
 *      the key as the only trust anchor: no log, certificate or timestamp)
 *   4. payloadType is application/vnd.in-toto+json                         -> payload_type_mismatch
 *   5. the payload is an in-toto Statement v1 with subjects                -> malformed_bundle
 *   6. predicateType is OpenVEX's (or CycloneDX's)                         -> predicate_type_mismatch
 *   7. with an expected image digest, a subject carries it                 -> subject_digest_mismatch
 * The signature is checked before the payload is read: nothing of an unsigned payload is trusted.
 */
import type { KeyObject } from "node:crypto";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { CYCLONEDX_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE, OPENVEX_PREDICATE_TYPE, type InTotoStatement } from "./dsse.js";

export { CYCLONEDX_PREDICATE_TYPE };

/** Predicate types a VEX attestation may carry. */
export const VEX_PREDICATE_TYPES: readonly string[] = [OPENVEX_PREDICATE_TYPE, CYCLONEDX_PREDICATE_TYPE];

/** Why a bundle did not verify. */
export type VerifyFailureReason =
  | "malformed_bundle"
  | "unknown_key"
  | "signature_invalid"
  | "payload_type_mismatch"
  | "predicate_type_mismatch"
  | "subject_digest_mismatch";

/** Every reason code, for documentation and exhaustive tests. */
export const VERIFY_FAILURE_REASONS: readonly VerifyFailureReason[] = [
  "malformed_bundle",
  "unknown_key",
  "signature_invalid",
  "payload_type_mismatch",
  "predicate_type_mismatch",
  "subject_digest_mismatch",
];

/** A key trusted to have signed a bundle. */
export interface TrustedKey {
  /** base64(sha256(SPKI DER)), matched against the bundle's hint. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

/** The outcome of verifyVex. */
export type VexVerification =
  | {
      readonly verified: true;
      readonly message: string;
      readonly keyId: string;
      readonly predicateType: string;
      /** Every subject digest as `sha256:<hex>` (other algorithms as `<alg>:<value>`). */
      readonly subjectDigests: readonly string[];
      readonly statement: InTotoStatement;
    }
  | {
      readonly verified: false;
      readonly reason: VerifyFailureReason;
      readonly message: string;
      /** The hint the bundle names, when it has one. */
      readonly keyId?: string;
    };

/** Options of verifyVex. */
export interface VerifyVexOptions {
  /** `sha256:<64 hex>` the statement's subject must carry. */
  readonly expectedDigest?: string;
}

type TrustedRoot = Parameters<typeof toTrustMaterial>[0];

// No CA, TSA or log: toTrustMaterial only needs the lists, so an empty root is enough.
const EMPTY_TRUST_ROOT = {
  mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
} as unknown as TrustedRoot;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Whether a string is a `sha256:<64 lowercase hex>` digest. Never throws. */
export function isImageDigest(value: string): boolean {
  return DIGEST.test(value);
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(reason: VerifyFailureReason, message: string, keyId?: string): VexVerification {
  return { verified: false, reason, message, ...(keyId !== undefined && keyId !== "" ? { keyId } : {}) };
}

function sigstoreVerify(entity: ReturnType<typeof toSignedEntity>, publicKey: KeyObject): string | undefined {
  try {
    const trust = toTrustMaterial(EMPTY_TRUST_ROOT, () => ({ publicKey, validFor: () => true }));
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
    return undefined;
  } catch (error) {
    return errorText(error);
  }
}

/**
 * Verifies a Sigstore bundle of a VEX attestation against trusted keys (see the module
 * docblock for the checks and their reason codes).
 * @throws RangeError when options.expectedDigest is given and is not `sha256:<64 hex>` (a
 *   caller's mistake, not a property of the bundle); never for any bundle text.
 */
export function verifyVex(bundleJson: string, trusted: readonly TrustedKey[], options: VerifyVexOptions = {}): VexVerification {
  if (options.expectedDigest !== undefined && !isImageDigest(options.expectedDigest)) {
    throw new RangeError(`the expected digest must be sha256:<64 lowercase hex> (got ${JSON.stringify(options.expectedDigest.slice(0, 80))})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bundleJson);
  } catch (error) {
    return fail("malformed_bundle", `the bundle is not JSON (${errorText(error)})`);
  }
  let entity: ReturnType<typeof toSignedEntity>;
  try {
    entity = toSignedEntity(bundleFromJSON(parsed));
  } catch (error) {
    return fail("malformed_bundle", `the bundle is not a Sigstore bundle (${errorText(error)})`);
  }
  const envelope = isRecord(parsed) && isRecord(parsed["dsseEnvelope"]) ? parsed["dsseEnvelope"] : undefined;
  if (envelope === undefined || typeof envelope["payload"] !== "string" || typeof envelope["payloadType"] !== "string") {
    return fail("malformed_bundle", "the bundle holds no DSSE envelope (a message signature is not a VEX attestation)");
  }
  const material = isRecord(parsed) && isRecord(parsed["verificationMaterial"]) ? parsed["verificationMaterial"] : {};
  const hint = isRecord(material["publicKey"]) && typeof material["publicKey"]["hint"] === "string" ? material["publicKey"]["hint"] : "";

  let signer: TrustedKey | undefined;
  const named = hint === "" ? undefined : trusted.find((k) => k.keyId === hint);
  if (named !== undefined) {
    const problem = sigstoreVerify(entity, named.publicKey);
    if (problem !== undefined) return fail("signature_invalid", `the signature does not verify with key ${hint}: ${problem}`, hint);
    signer = named;
  } else {
    // The hint is not signed and other tools write other hints: a trusted key whose signature
    // verifies is what counts; the hint only decides which reason a failure gets.
    signer = trusted.find((k) => sigstoreVerify(entity, k.publicKey) === undefined);
    if (signer === undefined) {
      if (hint !== "") {
        return fail(
          "unknown_key",
          `the bundle was signed by key ${hint}, which is not among the ${trusted.length} trusted key(s) (${trusted.map((k) => k.keyId).join(", ")}), and no trusted key verifies its signature`,
          hint,
        );
      }
      return fail("signature_invalid", `the bundle names no key and the signature verifies with none of the ${trusted.length} trusted key(s)`);
    }
  }

  const payloadType = envelope["payloadType"];
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return fail("payload_type_mismatch", `the signed payloadType is ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`, signer.keyId);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(envelope["payload"], "base64").toString("utf8"));
  } catch (error) {
    return fail("malformed_bundle", `the signed payload is not JSON (${errorText(error)})`, signer.keyId);
  }
  if (!isRecord(statement) || statement["_type"] !== IN_TOTO_STATEMENT_TYPE || !Array.isArray(statement["subject"]) || !isRecord(statement["predicate"])) {
    return fail("malformed_bundle", `the signed payload is not an in-toto Statement v1 (_type ${IN_TOTO_STATEMENT_TYPE}, subject, predicate)`, signer.keyId);
  }
  const predicateType = statement["predicateType"];
  if (typeof predicateType !== "string" || !VEX_PREDICATE_TYPES.includes(predicateType)) {
    return fail("predicate_type_mismatch", `the predicateType is ${JSON.stringify(predicateType)}, not one of ${VEX_PREDICATE_TYPES.join(", ")}`, signer.keyId);
  }
  const subjectDigests: string[] = [];
  for (const subject of statement["subject"] as unknown[]) {
    if (!isRecord(subject) || !isRecord(subject["digest"])) continue;
    for (const [alg, value] of Object.entries(subject["digest"])) if (typeof value === "string") subjectDigests.push(`${alg}:${value}`);
  }
  if (options.expectedDigest !== undefined && !subjectDigests.includes(options.expectedDigest)) {
    return fail(
      "subject_digest_mismatch",
      `the statement is about ${subjectDigests.length === 0 ? "no digest" : subjectDigests.join(", ")}, not the expected image ${options.expectedDigest}`,
      signer.keyId,
    );
  }
  return {
    verified: true,
    message: `verified: signed by key ${signer.keyId}, ${predicateType} attestation about ${subjectDigests.join(", ")}${options.expectedDigest !== undefined ? " (the expected digest)" : ""}`,
    keyId: signer.keyId,
    predicateType,
    subjectDigests,
    statement: statement as unknown as InTotoStatement,
  };
}
