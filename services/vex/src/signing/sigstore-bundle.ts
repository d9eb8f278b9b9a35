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

/** The bundle as stored: two-space indented JSON with a final newline. */
export function serialiseBundle(bundle: SigstoreBundleJson): string {
  return `${JSON.stringify(bundle, null, 2)}\n`;
}
