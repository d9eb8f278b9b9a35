/**
 * DSSE (Dead Simple Signing Envelope) over an in-toto Statement v1 whose predicate is the
 * OpenVEX document (predicateType https://openvex.dev/ns, the URI cosign's `--type openvex`
 * uses), signed with ECDSA P-256 / SHA-256 over the pre-authentication encoding.
 */
import { sign, verify, type KeyObject } from "node:crypto";
import type { SigningKey } from "./signing-key.js";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const OPENVEX_PREDICATE_TYPE = "https://openvex.dev/ns";

export interface DsseEnvelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly { readonly sig: string; readonly keyid: string }[];
}

/** DSSE v1 pre-authentication encoding of a payload. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** The in-toto statement for an image and its OpenVEX document. */
export function openVexStatement(subjectName: string, digestHex: string, document: unknown): Record<string, unknown> {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: subjectName, digest: { sha256: digestHex } }],
    predicateType: OPENVEX_PREDICATE_TYPE,
    predicate: document,
  };
}

/** Signs a statement into a DSSE envelope. */
export function signStatement(statement: Record<string, unknown>, key: SigningKey): DsseEnvelope {
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const sig = sign("sha256", pae(IN_TOTO_PAYLOAD_TYPE, payload), key.privateKey);
  return { payload: payload.toString("base64"), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: sig.toString("base64"), keyid: key.hint }] };
}

/** Checks an envelope's first signature with node:crypto alone (PAE + ECDSA). */
export function verifyEnvelope(envelope: DsseEnvelope, publicKey: KeyObject): boolean {
  const first = envelope.signatures[0];
  if (first === undefined) return false;
  return verify("sha256", pae(envelope.payloadType, Buffer.from(envelope.payload, "base64")), publicKey, Buffer.from(first.sig, "base64"));
}
