/**
 * Verification of a signed VEX bundle with @sigstore/verify against one public key, with no
 * transparency log, certificate log or timestamp required (thresholds 0, as for cosign's
 * `--key --insecure-ignore-tlog`): the key itself is the only trust anchor. On success the
 * in-toto statement is returned, after checking it is an OpenVEX attestation.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { BundleVerificationError } from "../errors.js";
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE, OPENVEX_PREDICATE_TYPE, type InTotoStatement } from "./dsse.js";

type TrustedRoot = Parameters<typeof toTrustMaterial>[0];

// No CA, TSA or log: toTrustMaterial only needs the lists, so an empty root is enough.
const EMPTY_TRUST_ROOT = {
  mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
} as unknown as TrustedRoot;

function message(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Verifies a Sigstore bundle's DSSE signature against publicKeyPem and returns its in-toto
 * statement (whose predicate is the OpenVEX document).
 * @throws BundleVerificationError when the JSON or the bundle is malformed, the key is not a
 *   public key, the signature does not verify, or the payload is not an in-toto Statement v1
 *   with predicateType https://openvex.dev/ns.
 */
export function verifyBundle(bundleJson: string, publicKeyPem: string): InTotoStatement {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(publicKeyPem);
  } catch (cause) {
    throw new BundleVerificationError(`the public key is not a PEM public key (${message(cause)})`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bundleJson);
  } catch (cause) {
    throw new BundleVerificationError(`the bundle is not JSON (${message(cause)})`, { cause });
  }
  try {
    const bundle = bundleFromJSON(parsed);
    const trust = toTrustMaterial(EMPTY_TRUST_ROOT, () => ({ publicKey, validFor: () => true }));
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
  } catch (cause) {
    throw new BundleVerificationError(message(cause), { cause });
  }
  const envelope = (parsed as { dsseEnvelope?: { payload?: unknown; payloadType?: unknown } }).dsseEnvelope;
  if (envelope?.payloadType !== IN_TOTO_PAYLOAD_TYPE || typeof envelope.payload !== "string") {
    throw new BundleVerificationError(`the bundle holds no DSSE envelope of payloadType ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8"));
  } catch (cause) {
    throw new BundleVerificationError("the signed payload is not JSON", { cause });
  }
  if (
    !isRecord(statement) ||
    statement["_type"] !== IN_TOTO_STATEMENT_TYPE ||
    statement["predicateType"] !== OPENVEX_PREDICATE_TYPE ||
    !isRecord(statement["predicate"]) ||
    !Array.isArray(statement["subject"])
  ) {
    throw new BundleVerificationError(`the signed payload is not an in-toto Statement v1 with predicateType ${OPENVEX_PREDICATE_TYPE}`);
  }
  return statement as unknown as InTotoStatement;
}
