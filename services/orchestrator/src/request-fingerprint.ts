/**
 * The fingerprint of a submit request that an idempotent replay is compared with: a sha256 of
 * each field's canonical form (maps with sorted keys, bytes hashed as they are), so a replay
 * under the same idempotency key with any field changed is refused naming that field. The
 * idempotency key and the (deprecated) organization_id are not part of it.
 */
import { createHash } from "node:crypto";
import type { ValidSubmit } from "./submit-validation.js";

function sha256(value: string | Uint8Array): string {
  return createHash("sha256").update(value).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** sha256 per request field, keyed by the field's proto name. */
export function requestFingerprint(valid: ValidSubmit): Record<string, string> {
  const { imageName, tagIdentifiers, ...config } = valid.config;
  return {
    image_ref: sha256(valid.imageRef),
    image_digest: sha256(valid.imageDigest),
    image_name: sha256(imageName ?? ""),
    tag_identifiers: sha256(String(tagIdentifiers === true)),
    sbom_id: sha256(valid.sbomId ?? ""),
    sbom: sha256(valid.sbom ?? new Uint8Array()),
    vulnerability_report: sha256(valid.report),
    config: sha256(canonical(config)),
    callback_url: sha256(valid.callbackUrl ?? ""),
  };
}

/** The fields whose fingerprints differ (none when `stored` is null: a job from before fingerprints). */
export function fingerprintDifferences(stored: Readonly<Record<string, string>> | null, current: Readonly<Record<string, string>>): string[] {
  if (stored === null) return [];
  return Object.keys(current)
    .filter((field) => stored[field] !== undefined && stored[field] !== current[field])
    .sort();
}
