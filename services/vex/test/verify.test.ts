import assert from "node:assert/strict";
import { createPublicKey, randomUUID, sign } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { noopLogger } from "@vexxy/platform";
import { VexService } from "@vexxy/proto";
import { startNatsServer, startPostgres, tempDir, type NatsServer, type PostgresServer, type TempDir } from "@vexxy/testkit";
import type { VexConfig } from "../src/config.js";
import { startVexService, type RunningVex } from "../src/service.js";
import {
  IN_TOTO_PAYLOAD_TYPE,
  KEYS_DIR,
  SigningKeyError,
  keyFingerprint,
  keyHint,
  loadKeyRing,
  loadSigningKey,
  openVexStatement,
  pae,
  produceVex,
  rotateKeyRing,
  serialiseBundle,
  toSigstoreBundle,
  verifyVex,
  type SigningKey,
  type TrustedKey,
} from "../src/lib.js";
import { DIGEST, DIGEST_HEX, SETTINGS, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

interface BundleShape {
  verificationMaterial: { publicKey: { hint: string } };
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] };
}

const INTERNAL_TOKEN = "verify-test-internal-token";
const internalAuth: Record<string, unknown> = { internalAuthToken: INTERNAL_TOKEN };
const OTHER_DIGEST = `sha256:${"d".repeat(64)}`;

/** @sigstore/verify alone, as its README shows, with the key as the only trust anchor; throws when it refuses. */
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

function trusted(...keys: SigningKey[]): TrustedKey[] {
  return keys.map((k) => ({ keyId: k.hint, publicKey: k.publicKey }));
}

function signedVex(key: SigningKey): string {
  return produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS).bundleJson;
}

/** The bundle with one statement's status changed inside the signed payload, the signature kept. */
function tampered(bundleJson: string): string {
  const bundle = JSON.parse(bundleJson) as BundleShape;
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString("utf8")) as {
    predicate: { statements: { status: string }[] };
  };
  const first = statement.predicate.statements[0];
  assert.ok(first !== undefined);
  first.status = first.status === "not_affected" ? "affected" : "not_affected";
  bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString("base64");
  return JSON.stringify(bundle);
}

/** A bundle whose DSSE envelope is validly signed by key over a payload of another type. */
function signedWithPayloadType(key: SigningKey, payloadType: string, payload: Buffer): string {
  const sig = sign("sha256", pae(payloadType, payload), key.privateKey);
  return serialiseBundle(
    toSigstoreBundle({ payload: payload.toString("base64"), payloadType, signatures: [{ sig: sig.toString("base64"), keyid: key.hint }] }, key.hint),
  );
}

describe("verifyVex: why a signed VEX does or does not verify (offline, @sigstore/verify for the signature)", () => {
  const key = freshKey();

  it("verifies a bundle the service signed, naming the key, the OpenVEX predicate type and the image digest", () => {
    const result = verifyVex(signedVex(key), trusted(key), { expectedDigest: DIGEST });
    assert.ok(result.verified, result.message);
    assert.equal(result.keyId, key.hint);
    assert.equal(result.predicateType, "https://openvex.dev/ns");
    assert.deepEqual(result.subjectDigests, [DIGEST]);
    assert.equal(result.statement.predicate["@context"], "https://openvex.dev/ns/v0.2.0");
    sigstoreVerify(signedVex(key), key.publicKeyPem);
  });

  it("rejects a tampered payload with signature_invalid, as @sigstore/verify does", () => {
    const bad = tampered(signedVex(key));
    const result = verifyVex(bad, trusted(key));
    assert.ok(!result.verified);
    assert.equal(result.reason, "signature_invalid");
    assert.match(result.message, /does not verify with key/);
    assert.throws(() => sigstoreVerify(bad, key.publicKeyPem), /signature/i);
  });

  it("rejects a bundle signed by a key that is not trusted with unknown_key naming the bundle's key, as @sigstore/verify refuses it", () => {
    const other = freshKey();
    const result = verifyVex(signedVex(key), trusted(other));
    assert.ok(!result.verified);
    assert.equal(result.reason, "unknown_key");
    assert.equal(result.keyId, key.hint);
    assert.ok(result.message.includes(key.hint) && result.message.includes(other.hint), result.message);
    assert.throws(() => sigstoreVerify(signedVex(key), other.publicKeyPem));
  });

  it("rejects a well-signed VEX about another image with subject_digest_mismatch (@sigstore/verify alone checks no subject)", () => {
    const bundle = signedVex(key);
    const result = verifyVex(bundle, trusted(key), { expectedDigest: OTHER_DIGEST });
    assert.ok(!result.verified);
    assert.equal(result.reason, "subject_digest_mismatch");
    assert.ok(result.message.includes(DIGEST) && result.message.includes(OTHER_DIGEST), result.message);
    sigstoreVerify(bundle, key.publicKeyPem);
  });

  it("rejects a validly signed envelope of another payload type with payload_type_mismatch", () => {
    const statement = Buffer.from(JSON.stringify(openVexStatement("ghcr.io/example/app", DIGEST_HEX, { "@context": "https://openvex.dev/ns/v0.2.0" })));
    const result = verifyVex(signedWithPayloadType(key, "application/json", statement), trusted(key));
    assert.ok(!result.verified);
    assert.equal(result.reason, "payload_type_mismatch");
    assert.match(result.message, /application\/json/);
  });

  it("rejects a signed in-toto statement of another predicate type with predicate_type_mismatch", () => {
    const statement = { ...openVexStatement("ghcr.io/example/app", DIGEST_HEX, { buildType: "x" }), predicateType: "https://slsa.dev/provenance/v1" };
    const result = verifyVex(signedWithPayloadType(key, IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement))), trusted(key));
    assert.ok(!result.verified);
    assert.equal(result.reason, "predicate_type_mismatch");
    assert.match(result.message, /slsa\.dev/);
  });

  it("rejects text that is not JSON, JSON that is not a bundle, and a bundle without a DSSE envelope with malformed_bundle", () => {
    const noEnvelope = JSON.parse(signedVex(key)) as Record<string, unknown>;
    delete noEnvelope["dsseEnvelope"];
    for (const text of ["not json {", JSON.stringify({ hello: "world" }), JSON.stringify(noEnvelope)]) {
      const result = verifyVex(text, trusted(key));
      assert.ok(!result.verified);
      assert.equal(result.reason, "malformed_bundle", result.message);
    }
  });

  it("verifies a bundle whose hint names no trusted key when a trusted key's signature verifies (the hint is not signed)", () => {
    const bundle = JSON.parse(signedVex(key)) as BundleShape;
    bundle.verificationMaterial.publicKey.hint = "some-other-tool-hint";
    const result = verifyVex(JSON.stringify(bundle), trusted(freshKey(), key));
    assert.ok(result.verified, result.message);
    assert.equal(result.keyId, key.hint);
  });

  it("throws RangeError for an expected digest that is not sha256:<64 hex>", () => {
    assert.throws(() => verifyVex(signedVex(key), trusted(key), { expectedDigest: "sha256:abc" }), RangeError);
  });
});

describe("key rotation in VEX_STATE_DIR", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir("vex-keys");
  });
  afterEach(async () => {
    await dir?.remove();
  });

  it("keeps the legacy generated key verifying after the first rotation, and signs with the new key", async () => {
    const legacy = await loadSigningKey(undefined, dir.path, noopLogger);
    const result = await rotateKeyRing(dir.path);
    assert.equal(result.migrated, join(dir.path, "vex-signing.key.pem"));
    assert.notEqual(result.activeKeyId, legacy.hint);
    const ring = await loadKeyRing(undefined, dir.path, noopLogger);
    assert.equal(ring.active.hint, result.activeKeyId);
    assert.deepEqual(
      ring.keys.map((k) => [k.keyId, k.active]),
      [
        [result.activeKeyId, true],
        [legacy.hint, false],
      ],
    );
    const old = verifyVex(signedVex(legacy), ring.keys);
    assert.ok(old.verified && old.keyId === legacy.hint, old.message);
    const fresh = verifyVex(signedVex(ring.active), ring.keys);
    assert.ok(fresh.verified && fresh.keyId === ring.active.hint, fresh.message);
    const unknown = verifyVex(signedVex(freshKey()), ring.keys);
    assert.ok(!unknown.verified && unknown.reason === "unknown_key");
  });

  it("keeps every earlier key over two rotations, and a retired key kept as its public half alone still verifies", async () => {
    const first = await rotateKeyRing(dir.path);
    const firstKey = (await loadKeyRing(undefined, dir.path, noopLogger)).active;
    const second = await rotateKeyRing(dir.path);
    assert.deepEqual(second.keyIds, [second.activeKeyId, first.activeKeyId]);
    // The operator deletes the retired private key and keeps <fingerprint>.pub.pem.
    await unlink(join(dir.path, KEYS_DIR, `${first.activeFingerprint}.pem`));
    const ring = await loadKeyRing(undefined, dir.path, noopLogger);
    assert.deepEqual(
      ring.keys.map((k) => k.keyId),
      [second.activeKeyId, first.activeKeyId],
    );
    assert.ok(verifyVex(signedVex(firstKey), ring.keys).verified);
  });

  it("refuses to start on an active pointer that names no private key, and on a key file not named by its fingerprint, naming the file", async () => {
    const rotated = await rotateKeyRing(dir.path);
    const keysDir = join(dir.path, KEYS_DIR);
    await writeFile(join(keysDir, "active"), `${"0".repeat(64)}\n`);
    await assert.rejects(loadKeyRing(undefined, dir.path, noopLogger), (e: unknown) => e instanceof SigningKeyError && /names "0{64}"/.test(e.message));
    await writeFile(join(keysDir, "active"), `${rotated.activeFingerprint}\n`);
    await rename(join(keysDir, `${rotated.activeFingerprint}.pub.pem`), join(keysDir, `${"1".repeat(64)}.pub.pem`));
    await assert.rejects(
      loadKeyRing(undefined, dir.path, noopLogger),
      (e: unknown) => e instanceof SigningKeyError && e.message.includes(`${"1".repeat(64)}.pub.pem`) && /not the fingerprint/.test(e.message),
    );
  });

  it("with VEX_SIGNING_KEY_FILE naming no file the ring's active key signs (no new key generated)", async () => {
    const rotated = await rotateKeyRing(dir.path);
    const ring = await loadKeyRing(join(dir.path, "absent.pem"), dir.path, noopLogger);
    assert.equal(ring.active.hint, rotated.activeKeyId);
    assert.deepEqual(
      ring.keys.map((k) => k.keyId),
      [rotated.activeKeyId],
    );
  });

  it("with VEX_SIGNING_KEY_FILE that key signs and the ring's keys still verify", async () => {
    const rotated = await rotateKeyRing(dir.path);
    const own = freshKey();
    const file = join(dir.path, "own.pem");
    await writeFile(file, own.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const ring = await loadKeyRing(file, dir.path, noopLogger);
    assert.equal(ring.active.hint, own.hint);
    assert.deepEqual(
      ring.keys.map((k) => [k.keyId, k.active]),
      [
        [own.hint, true],
        [rotated.activeKeyId, false],
      ],
    );
    assert.equal(keyFingerprint(ring.active.publicKey).length, 64);
    assert.equal(keyHint(ring.active.publicKey), own.hint);
    assert.match(await readFile(join(dir.path, KEYS_DIR, "active"), "utf8"), new RegExp(rotated.activeFingerprint));
  });
});

describe("VerifyVex and GetSigningKey on the real VEX service after a rotation (real nats-server, embedded Postgres)", function () {
  this.timeout(120000);
  let pg: PostgresServer;
  let nats: NatsServer;
  let dir: TempDir;
  let service: RunningVex;
  let client: Client<typeof VexService>;
  let oldKey: SigningKey;
  let newKey: SigningKey;

  before(async () => {
    dir = await tempDir("vex-verify-rpc");
    const stateDir = join(dir.path, "state");
    oldKey = await loadSigningKey(undefined, stateDir, noopLogger);
    await rotateKeyRing(stateDir);
    newKey = (await loadKeyRing(undefined, stateDir, noopLogger)).active;
    pg = await startPostgres();
    nats = await startNatsServer({ storeDir: join(dir.path, "nats") });
    const config = Object.freeze({
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: `T${randomUUID().replace(/-/g, "")}`,
      databaseUrl: await pg.createDatabase("vex_verify_test"),
      blobStoreUrl: `file://${join(dir.path, "blobs")}`,
      logLevel: "error",
      eventAckWaitMs: 5000,
      signingKeyFile: undefined,
      stateDir,
      author: "VEXxy runtime reachability",
      idBase: "https://vexxy.dev/vex/",
      // The mesh's shared secret (INTERNAL_AUTH_TOKEN) every internal service checks.
      ...internalAuth,
    }) as VexConfig;
    service = await startVexService(config, { logger: noopLogger });
    const bearer: Interceptor = (next) => async (req) => {
      req.header.set("authorization", `Bearer ${INTERNAL_TOKEN}`);
      return await next(req);
    };
    client = createClient(VexService, createGrpcTransport({ baseUrl: service.url, interceptors: [bearer] }));
  });

  after(async () => {
    await service?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  it("lists both keys with their ids, the rotated-in one active and first", async () => {
    const res = await client.getSigningKey({});
    assert.equal(res.keyHint, newKey.hint);
    assert.equal(res.publicKeyPem, newKey.publicKeyPem);
    assert.deepEqual(
      res.keys.map((k) => [k.keyId, k.active, k.publicKeyPem]),
      [
        [newKey.hint, true, newKey.publicKeyPem],
        [oldKey.hint, false, oldKey.publicKeyPem],
      ],
    );
    assert.equal(service.publicKeyPem, newKey.publicKeyPem);
  });

  it("verifies a bundle of the old key and one of the new key against the image digest, returning the document", async () => {
    for (const key of [oldKey, newKey]) {
      const res = await client.verifyVex({ bundleJson: signedVex(key), expectedDigest: DIGEST });
      assert.ok(res.verified, res.message);
      assert.deepEqual([res.reason, res.keyId, res.predicateType, res.subjectDigests], ["", key.hint, "https://openvex.dev/ns", [DIGEST]]);
      assert.equal((JSON.parse(res.documentJson) as { "@context": string })["@context"], "https://openvex.dev/ns/v0.2.0");
    }
  });

  it("answers a tampered payload, an unknown key, a wrong digest and a non-bundle with their reason codes", async () => {
    const cases: [string, string, string][] = [
      [tampered(signedVex(newKey)), "", "signature_invalid"],
      [signedVex(freshKey()), "", "unknown_key"],
      [signedVex(oldKey), OTHER_DIGEST, "subject_digest_mismatch"],
      ["{}", "", "malformed_bundle"],
    ];
    for (const [bundleJson, expectedDigest, reason] of cases) {
      const res = await client.verifyVex({ bundleJson, expectedDigest });
      assert.equal(res.verified, false);
      assert.equal(res.reason, reason, res.message);
      assert.notEqual(res.message, "");
    }
  });

  it("checks against the caller's public keys instead of its own when given: the service's own bundle is then an unknown key", async () => {
    const other = freshKey();
    const res = await client.verifyVex({ bundleJson: signedVex(newKey), publicKeyPems: [other.publicKeyPem] });
    assert.deepEqual([res.verified, res.reason, res.keyId], [false, "unknown_key", newKey.hint]);
    const ok = await client.verifyVex({ bundleJson: signedVex(other), publicKeyPems: [other.publicKeyPem] });
    assert.ok(ok.verified, ok.message);
  });

  it("refuses an empty bundle, a malformed expected_digest and a public key that is not one with InvalidArgument naming the field", async () => {
    const cases: [Parameters<typeof client.verifyVex>[0], string][] = [
      [{ bundleJson: "" }, "bundle_json"],
      [{ bundleJson: "{}", expectedDigest: "sha256:abc" }, "expected_digest"],
      [{ bundleJson: "{}", publicKeyPems: ["not a key"] }, "public_key_pems[0]"],
    ];
    for (const [req, field] of cases) {
      await assert.rejects(client.verifyVex(req), (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && e.rawMessage.includes(field));
    }
  });

  it("keeps VerifyBundle answering pass/fail with the active key", async () => {
    assert.equal((await client.verifyBundle({ bundleJson: signedVex(newKey) })).verified, true);
    const tamperedRes = await client.verifyBundle({ bundleJson: tampered(signedVex(newKey)) });
    assert.equal(tamperedRes.verified, false);
    assert.notEqual(tamperedRes.error, "");
  });
});
