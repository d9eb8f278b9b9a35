/**
 * The signed VEX as a Sigstore bundle v0.3 with a plain public key (no certificate, no
 * transparency-log entry: this deployment has neither Fulcio nor Rekor), the shape cosign
 * writes for `--key` signing, and its verification with @sigstore/verify.
 */
import { createPublicKey } from "node:crypto";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import type { DsseEnvelope } from "./dsse.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** Wraps an envelope signed with the key whose hint is given. */
export function toSigstoreBundle(envelope: DsseEnvelope, hint: string): Record<string, unknown> {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: envelope,
  };
}

/**
 * Verifies a bundle's signature with @sigstore/verify against a PEM public key and returns the
 * in-toto statement it carries.
 * @throws Error (from @sigstore/verify) when the bundle is malformed or the signature is wrong.
 */
export function verifySigstoreBundle(bundleJson: string, publicKeyPem: string): Record<string, unknown> {
  const parsed = JSON.parse(bundleJson) as { dsseEnvelope?: { payload?: string } };
  const bundle = bundleFromJSON(parsed);
  const publicKey = createPublicKey(publicKeyPem);
  // An empty trust root: the only trust anchor is the key itself, and no log or timestamp
  // authority is required (thresholds 0), as for cosign's --key --insecure-ignore-tlog.
  const emptyRoot = { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const trust = toTrustMaterial(emptyRoot as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey, validFor: () => true }));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
  return JSON.parse(Buffer.from(parsed.dsseEnvelope?.payload ?? "", "base64").toString("utf8")) as Record<string, unknown>;
}
