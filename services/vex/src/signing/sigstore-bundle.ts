/**
 * The signed VEX as a Sigstore bundle v0.3 with a plain public key: no certificate and no
 * transparency-log entry (this deployment has neither Fulcio nor Rekor), the shape cosign
 * writes for `--key` signing and the shape of the project's reference vectors.
 */
import type { DsseEnvelope } from "./dsse.js";

/** Media type of a Sigstore bundle v0.3. */
export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** The JSON shape of the bundles this service writes. */
export interface SigstoreBundleJson {
  readonly mediaType: typeof BUNDLE_MEDIA_TYPE;
  readonly verificationMaterial: {
    readonly publicKey: { readonly hint: string };
    readonly tlogEntries: readonly never[];
    readonly timestampVerificationData: { readonly rfc3161Timestamps: readonly never[] };
  };
  readonly dsseEnvelope: DsseEnvelope;
}

/** Wraps an envelope signed with the key whose hint is given. Never throws. */
export function toSigstoreBundle(envelope: DsseEnvelope, hint: string): SigstoreBundleJson {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: envelope,
  };
}

/**
 * Whether a base64 text can be written between quotes as it is: ASCII (one UTF-8 byte per
 * character) without a double quote or a backslash, which could end or change the JSON string.
 */
function spliceable(text: string): boolean {
  return Buffer.byteLength(text, "utf8") === text.length && !text.includes('"') && !text.includes("\\");
}

/** The envelope's payload value in the indented JSON: a top-level key is the only one indented by two spaces. */
const PAYLOAD_AT = '\n  "dsseEnvelope": {\n    "payload": "';

/**
 * The bundle as stored: two-space indented JSON with a final newline, the bytes of
 * `JSON.stringify(bundle, null, 2)`. The base64 payload (tens of MiB for a large document) is
 * spliced in rather than scanned again by JSON.stringify (~0.5 s for the issue 9 bench's OpenVEX
 * bundle); a payload that is not plain ASCII without quotes or backslashes goes through
 * JSON.stringify. (A control character, which base64 never holds, would be written raw and make
 * the bundle unreadable.) Never throws.
 */
export function serialiseBundle(bundle: SigstoreBundleJson): string {
  const payload = bundle.dsseEnvelope.payload;
  if (!spliceable(payload)) return `${JSON.stringify(bundle, null, 2)}\n`;
  const text = JSON.stringify({ ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: "" } }, null, 2);
  const at = text.indexOf(PAYLOAD_AT);
  if (at < 0) return `${JSON.stringify(bundle, null, 2)}\n`;
  const end = at + PAYLOAD_AT.length;
  return `${text.slice(0, end)}${payload}${text.slice(end)}\n`;
}
