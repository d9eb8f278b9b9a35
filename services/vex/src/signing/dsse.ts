/**
 * DSSE (Dead Simple Signing Envelope) over an in-toto Statement v1 whose predicate is the
 * OpenVEX document (predicateType https://openvex.dev/ns, the URI cosign's `--type openvex`
 * uses), signed with ECDSA P-256 / SHA-256 over the pre-authentication encoding, the signature
 * DER-encoded (node:crypto's default for EC keys, and what Sigstore verifiers expect).
 */
import { sign, verify, type KeyObject } from "node:crypto";
import type { SigningKey } from "./signing-key.js";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const OPENVEX_PREDICATE_TYPE = "https://openvex.dev/ns";
/**
 * The predicate type of a CycloneDX document (the VEX is a CycloneDX BOM): the in-toto
 * attestation framework's vetted CycloneDX predicate and cosign's `--type cyclonedx`
 * (cosign 2.x; `https://cyclonedx.org/vex` is registered nowhere).
 */
export const CYCLONEDX_PREDICATE_TYPE = "https://cyclonedx.org/bom";

/** An in-toto Statement v1 carrying an OpenVEX (or a CycloneDX) document. */
export interface InTotoStatement {
  readonly _type: typeof IN_TOTO_STATEMENT_TYPE;
  readonly subject: readonly { readonly name: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly predicateType: typeof OPENVEX_PREDICATE_TYPE | typeof CYCLONEDX_PREDICATE_TYPE;
  readonly predicate: Readonly<Record<string, unknown>>;
}

/** A DSSE envelope as JSON (payload and signatures base64). */
export interface DsseEnvelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly { readonly sig: string; readonly keyid: string }[];
}

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** The in-toto statement for an image (name + sha256 digest hex) and its OpenVEX document. */
export function openVexStatement(subjectName: string, digestHex: string, document: Readonly<Record<string, unknown>>): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: subjectName, digest: { sha256: digestHex } }],
    predicateType: OPENVEX_PREDICATE_TYPE,
    predicate: document,
  };
}

/** The in-toto statement for an image (name + sha256 digest hex) and its CycloneDX VEX document. */
export function cycloneDxStatement(subjectName: string, digestHex: string, document: Readonly<Record<string, unknown>>): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: subjectName, digest: { sha256: digestHex } }],
    predicateType: CYCLONEDX_PREDICATE_TYPE,
    predicate: document,
  };
}

/** Signs a statement into a DSSE envelope whose keyid is the key's hint. Never throws for a P-256 key. */
export function signStatement(statement: InTotoStatement, key: SigningKey): DsseEnvelope {
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const sig = sign("sha256", pae(IN_TOTO_PAYLOAD_TYPE, payload), key.privateKey);
  return { payload: payload.toString("base64"), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: sig.toString("base64"), keyid: key.hint }] };
}

/**
 * Checks an envelope with node:crypto alone (PAE + signature over SHA-256), independently of
 * @sigstore/verify: true when any signature verifies with publicKey. Never throws.
 */
export function verifyEnvelope(envelope: DsseEnvelope, publicKey: KeyObject): boolean {
  const body = pae(envelope.payloadType, Buffer.from(envelope.payload, "base64"));
  return envelope.signatures.some((s) => {
    try {
      return verify("sha256", body, publicKey, Buffer.from(s.sig, "base64"));
    } catch {
      return false;
    }
  });
}
