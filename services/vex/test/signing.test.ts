import assert from "node:assert/strict";
import { createPublicKey, createPrivateKey, createHash, generateKeyPairSync, verify as cryptoVerify } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { noopLogger } from "@vexxy/platform";
import { tempDir } from "@vexxy/testkit";
import {
  BundleVerificationError,
  GENERATED_KEY_FILE,
  SigningKeyError,
  keyHint,
  loadSigningKey,
  openVexProblems,
  produceVex,
  serialiseBundle,
  signStatement,
  toSigstoreBundle,
  verifyBundle,
  verifyEnvelope,
} from "../src/lib.js";
import { DIGEST_HEX, SETTINGS, fixture, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

interface BundleShape {
  mediaType: string;
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: unknown[]; timestampVerificationData: { rfc3161Timestamps: unknown[] } };
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] };
}

/** @sigstore/verify used directly, as the reference README shows, without this service's wrapper. */
function sigstoreVerify(bundleJson: string, pem: string): void {
  const publicKey = createPublicKey(pem);
  const root = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
  };
  const trust = toTrustMaterial(root as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey, validFor: () => true }));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundleFromJSON(JSON.parse(bundleJson))));
}

/** A second, independent check written here from the DSSE spec: PAE, then ECDSA P-256/SHA-256 over it with a DER signature. */
function paeVerify(envelope: BundleShape["dsseEnvelope"], pem: string): boolean {
  const body = Buffer.from(envelope.payload, "base64");
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(envelope.payloadType)} ${envelope.payloadType} ${body.length} `), body]);
  const sig = Buffer.from(envelope.signatures[0]?.sig ?? "", "base64");
  return cryptoVerify("sha256", pae, { key: createPublicKey(pem), dsaEncoding: "der" }, sig);
}

describe("DSSE signing and Sigstore bundles", () => {
  it("verifies the two reference bundles (ECDSA P-256 and Ed25519) with verifyBundle and returns their OpenVEX statements", () => {
    for (const [bundle, pem] of [
      ["openvex-attestation.ecdsa-p256.sigstore.json", "ecdsa-p256.pub.pem"],
      ["openvex-attestation.ed25519.sigstore.json", "ed25519.pub.pem"],
    ] as const) {
      const statement = verifyBundle(fixture(bundle), fixture(pem));
      assert.equal(statement._type, "https://in-toto.io/Statement/v1");
      assert.equal(statement.predicateType, "https://openvex.dev/ns");
      assert.deepEqual(statement.subject, [{ name: "ghcr.io/example/app", digest: { sha256: "a".repeat(64) } }]);
      assert.equal(statement.predicate["@context"], "https://openvex.dev/ns/v0.2.0");
    }
  });

  it("refuses a reference bundle checked against the other reference key", () => {
    assert.throws(() => verifyBundle(fixture("openvex-attestation.ecdsa-p256.sigstore.json"), fixture("ed25519.pub.pem")), BundleVerificationError);
  });

  it("writes a Sigstore bundle v0.3 shaped like the reference vectors: key hint = base64(sha256(SPKI DER)), no tlog entries, in-toto payload type", () => {
    const key = freshKey();
    const bundle = JSON.parse(produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS).bundleJson) as BundleShape;
    const reference = JSON.parse(fixture("openvex-attestation.ecdsa-p256.sigstore.json")) as BundleShape;
    assert.deepEqual(Object.keys(bundle), Object.keys(reference));
    assert.deepEqual(Object.keys(bundle.verificationMaterial), Object.keys(reference.verificationMaterial));
    assert.equal(bundle.mediaType, "application/vnd.dev.sigstore.bundle.v0.3+json");
    const spki = key.publicKey.export({ type: "spki", format: "der" });
    assert.equal(bundle.verificationMaterial.publicKey.hint, createHash("sha256").update(spki).digest("base64"));
    assert.deepEqual(bundle.verificationMaterial.tlogEntries, []);
    assert.equal(bundle.dsseEnvelope.payloadType, "application/vnd.in-toto+json");
    assert.equal(bundle.dsseEnvelope.signatures[0]?.keyid, key.hint);
    // A DER ECDSA signature is an ASN.1 SEQUENCE.
    assert.equal(Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? "", "base64")[0], 0x30);
  });

  it("signs an in-toto statement about the image whose predicate is the schema-valid OpenVEX document", () => {
    const key = freshKey();
    const produced = produceVex(sampleJob({ imageRef: `docker://ghcr.io/example/app@sha256:${DIGEST_HEX}`, imageName: "" }), sampleVerdicts(), key, SETTINGS);
    const statement = verifyBundle(produced.bundleJson, key.publicKeyPem);
    assert.deepEqual(statement.subject, [{ name: "ghcr.io/example/app", digest: { sha256: DIGEST_HEX } }]);
    assert.equal(statement.predicateType, "https://openvex.dev/ns");
    assert.deepEqual(statement.predicate, JSON.parse(produced.documentJson));
    assert.deepEqual(openVexProblems(statement.predicate), []);
  });

  it("produces a bundle that @sigstore/verify accepts directly and that an independent PAE + ECDSA check with node:crypto accepts", () => {
    const key = freshKey();
    const { bundleJson } = produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS);
    sigstoreVerify(bundleJson, key.publicKeyPem);
    const bundle = JSON.parse(bundleJson) as BundleShape;
    assert.equal(paeVerify(bundle.dsseEnvelope, key.publicKeyPem), true);
    assert.equal(verifyEnvelope(bundle.dsseEnvelope, key.publicKey), true);
  });

  it("fails every check when one payload byte is flipped, and verifyBundle throws BundleVerificationError", () => {
    const key = freshKey();
    const bundle = JSON.parse(produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS).bundleJson) as BundleShape;
    const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64");
    payload[payload.length - 5] = (payload[payload.length - 5] ?? 0) ^ 0x01;
    const tampered = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: payload.toString("base64") } };
    const tamperedJson = JSON.stringify(tampered);
    assert.throws(() => sigstoreVerify(tamperedJson, key.publicKeyPem), /SIGNATURE_ERROR|signature/i);
    assert.equal(paeVerify(tampered.dsseEnvelope, key.publicKeyPem), false);
    assert.equal(verifyEnvelope(tampered.dsseEnvelope, key.publicKey), false);
    assert.throws(() => verifyBundle(tamperedJson, key.publicKeyPem), BundleVerificationError);
  });

  it("refuses a valid bundle checked against another key, and input that is not a bundle or not a key", () => {
    const key = freshKey();
    const { bundleJson } = produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS);
    assert.throws(() => verifyBundle(bundleJson, freshKey().publicKeyPem), BundleVerificationError);
    assert.throws(() => verifyBundle("{not json", key.publicKeyPem), /not JSON/);
    assert.throws(() => verifyBundle("{}", key.publicKeyPem), BundleVerificationError);
    assert.throws(() => verifyBundle(bundleJson, "not a pem"), /not a PEM public key/);
  });

  it("refuses a correctly signed payload that is not an OpenVEX in-toto statement", () => {
    const key = freshKey();
    const other = {
      _type: "https://in-toto.io/Statement/v1",
      subject: [],
      predicateType: "https://slsa.dev/provenance/v1",
      predicate: {},
    } as unknown as Parameters<typeof signStatement>[0];
    const json = serialiseBundle(toSigstoreBundle(signStatement(other, key), key.hint));
    sigstoreVerify(json, key.publicKeyPem);
    assert.throws(() => verifyBundle(json, key.publicKeyPem), /predicateType https:\/\/openvex.dev\/ns/);
  });
});

describe("signing key management", () => {
  it("generates a P-256 key once in VEX_STATE_DIR with mode 0600, logs it, and loads the same key on the next start", async () => {
    const dir = await tempDir("vex-key");
    try {
      const warnings: string[] = [];
      const logger = { ...noopLogger, warn: (msg: string) => void warnings.push(msg) } as typeof noopLogger;
      const first = await loadSigningKey(undefined, join(dir.path, "state"), logger);
      assert.equal(warnings.filter((m) => /generated a new VEX signing key/.test(m)).length, 1);
      const second = await loadSigningKey(undefined, join(dir.path, "state"), logger);
      assert.equal(second.hint, first.hint);
      assert.equal(warnings.filter((m) => /generated/.test(m)).length, 1, "the second start generates nothing");
      const path = join(dir.path, "state", GENERATED_KEY_FILE);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const kept = createPrivateKey(readFileSync(path));
      assert.equal(kept.asymmetricKeyDetails?.namedCurve, "prime256v1");
      assert.match(readFileSync(path, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    } finally {
      await dir.remove();
    }
  });

  it("uses VEX_SIGNING_KEY_FILE when it names a PKCS#8 P-256 key, and falls back to the kept key when it names no file", async () => {
    const dir = await tempDir("vex-key");
    try {
      const own = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      writeFileSync(join(dir.path, "own.pem"), own.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
      const loaded = await loadSigningKey(join(dir.path, "own.pem"), join(dir.path, "state"), noopLogger);
      assert.equal(loaded.hint, keyHint(own.publicKey));
      const fallback = await loadSigningKey(join(dir.path, "missing.pem"), join(dir.path, "state"), noopLogger);
      assert.notEqual(fallback.hint, loaded.hint);
      assert.ok(statSync(join(dir.path, "state", GENERATED_KEY_FILE)).isFile());
    } finally {
      await dir.remove();
    }
  });

  it("refuses an Ed25519 key and a file that is not a key with SigningKeyError naming VEX_SIGNING_KEY_FILE", async () => {
    const dir = await tempDir("vex-key");
    try {
      writeFileSync(join(dir.path, "ed.pem"), generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
      await assert.rejects(
        loadSigningKey(join(dir.path, "ed.pem"), dir.path, noopLogger),
        (error: unknown) => error instanceof SigningKeyError && /VEX_SIGNING_KEY_FILE=.*P-256/.test(error.message),
      );
      writeFileSync(join(dir.path, "junk.pem"), "hello");
      await assert.rejects(loadSigningKey(join(dir.path, "junk.pem"), dir.path, noopLogger), /VEX_SIGNING_KEY_FILE/);
    } finally {
      await dir.remove();
    }
  });
});
