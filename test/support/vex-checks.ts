/**
 * Independent checks of what the mesh returns: the Sigstore bundle verified with
 * @sigstore/verify (not the VEX service's code), and the OpenVEX document validated against
 * the official schema with ajv.
 */
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/** Verifies bundleJson with publicKeyPem; returns the in-toto statement it carries. @throws on a bad signature. */
export function verifyBundleIndependently(
  bundleJson: string,
  publicKeyPem: string,
): { predicateType: string; predicate: unknown; subject: { name: string; digest: Record<string, string> }[] } {
  const bundle = bundleFromJSON(JSON.parse(bundleJson));
  const key = createPublicKey(publicKeyPem);
  // No CA, log or timestamp authority: a bundle signed with a plain key, as cosign --key makes.
  const emptyRoot = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
  };
  const trust = toTrustMaterial(emptyRoot as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey: key, validFor: () => true }));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
  const envelope = (JSON.parse(bundleJson) as { dsseEnvelope: { payload: string } }).dsseEnvelope;
  return JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8"));
}

const schemaPath = fileURLToPath(new URL("../fixtures/openvex_json_schema.json", import.meta.url));

/** Validates an OpenVEX document; returns ajv's errors (empty when valid). */
export function openVexSchemaErrors(doc: unknown): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addFormat("iri", true);
  const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")) as object);
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`);
}
