/**
 * DSSE (Dead Simple Signing Envelope) over an in-toto Statement v1 whose predicate is the
 * OpenVEX document (predicateType https://openvex.dev/ns, the URI cosign's `--type openvex`
 * uses), signed with ECDSA P-256 / SHA-256 over the pre-authentication encoding, the signature
 * DER-encoded (node:crypto's default for EC keys, and what Sigstore verifiers expect).
 */
import { createSign, verify, type KeyObject } from "node:crypto";
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

/** The PAE's text before the payload: "DSSEv1" SP len(type) SP type SP len(body) SP. */
function paeHeader(payloadType: string, payloadLength: number): string {
  return `DSSEv1 ${Buffer.byteLength(payloadType, "utf8")} ${payloadType} ${payloadLength} `;
}

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(paeHeader(payloadType, payload.length), "utf8"), payload]);
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

/** The envelope of an in-toto payload: ECDSA over its PAE (fed to the hash in two parts, never concatenated). */
function envelopeOf(payload: Buffer, key: SigningKey): DsseEnvelope {
  const signer = createSign("sha256");
  signer.update(paeHeader(IN_TOTO_PAYLOAD_TYPE, payload.length), "utf8");
  signer.update(payload);
  const sig = signer.sign(key.privateKey);
  return { payload: payload.toString("base64"), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: sig.toString("base64"), keyid: key.hint }] };
}

/** Signs a statement into a DSSE envelope whose keyid is the key's hint. Never throws for a P-256 key. */
export function signStatement(statement: InTotoStatement, key: SigningKey): DsseEnvelope {
  return envelopeOf(Buffer.from(JSON.stringify(statement), "utf8"), key);
}

/**
 * Signs the in-toto statement about an image whose predicate is a document already serialised
 * (a writer's `json`): the payload is the statement (`_type`, `subject`, `predicateType`,
 * `predicate`, in that order, as signStatement writes them) with `documentJson` embedded byte
 * for byte, its final newline left out. So the stored document is exactly the signed one, and a
 * document of tens of MiB is serialised once instead of twice. `documentJson` must be the JSON
 * text of an object.
 * @throws TypeError when `documentJson` does not look like a JSON object (`{` ... `}`).
 */
export function signDocument(statement: Omit<InTotoStatement, "predicate">, documentJson: string, key: SigningKey): DsseEnvelope {
  const predicate = documentJson.endsWith("\n") ? documentJson.slice(0, -1) : documentJson;
  if (!predicate.startsWith("{") || !predicate.endsWith("}")) throw new TypeError("the predicate to sign is not the JSON text of an object");
  const head = `${JSON.stringify({ _type: statement._type, subject: statement.subject, predicateType: statement.predicateType }).slice(0, -1)},"predicate":`;
  // Written into one buffer: `head + predicate + "}"` as a string would be flattened (copied) first.
  const headBytes = Buffer.byteLength(head, "utf8");
  const predicateBytes = Buffer.byteLength(predicate, "utf8");
  const payload = Buffer.allocUnsafe(headBytes + predicateBytes + 1);
  payload.write(head, 0, "utf8");
  payload.write(predicate, headBytes, "utf8");
  payload.write("}", headBytes + predicateBytes, "utf8");
  return envelopeOf(payload, key);
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
