import assert from "node:assert/strict";
import {
  BUNDLE_MEDIA_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  OPENVEX_PREDICATE_TYPE,
  openVexStatement,
  produceVex,
  serialiseBundle,
  signDocument,
  signStatement,
  toSigstoreBundle,
  verifyBundle,
  verifyEnvelope,
  type SigstoreBundleJson,
} from "../src/lib.js";
import { DIGEST_HEX, SETTINGS, freshKey, sampleJob, sampleVerdicts } from "./helpers.js";

const SUBJECT = [{ name: "ghcr.io/example/demo-image", digest: { sha256: DIGEST_HEX } }];

describe("signing the stored bytes (signDocument, serialiseBundle)", () => {
  it("signs a payload that is the statement signStatement signs, with the stored document embedded byte for byte", () => {
    const key = freshKey();
    const produced = produceVex(sampleJob(), sampleVerdicts(), key, SETTINGS);
    const document = JSON.parse(produced.documentJson) as Record<string, unknown>;
    const envelope = signDocument({ _type: IN_TOTO_STATEMENT_TYPE, subject: SUBJECT, predicateType: OPENVEX_PREDICATE_TYPE }, produced.documentJson, key);
    const payload = Buffer.from(envelope.payload, "base64").toString("utf8");
    assert.deepEqual(JSON.parse(payload), openVexStatement(SUBJECT[0]?.name ?? "", DIGEST_HEX, document));
    assert.equal(
      payload,
      `{"_type":"${IN_TOTO_STATEMENT_TYPE}","subject":${JSON.stringify(SUBJECT)},"predicateType":"${OPENVEX_PREDICATE_TYPE}","predicate":${produced.documentJson.trimEnd()}}`,
    );
    assert.equal(verifyEnvelope(envelope, key.publicKey), true);
    assert.equal(verifyEnvelope(envelope, freshKey().publicKey), false);
    // produceVex's own bundle carries the stored bytes too, and verifies.
    const stored = JSON.parse(produced.bundleJson) as SigstoreBundleJson;
    assert.ok(Buffer.from(stored.dsseEnvelope.payload, "base64").toString("utf8").endsWith(`"predicate":${produced.documentJson.trimEnd()}}`));
    assert.deepEqual(verifyBundle(produced.bundleJson, key.publicKeyPem).predicate, document);
  });

  it("signDocument refuses a predicate that is not the text of a JSON object", () => {
    const key = freshKey();
    const head = { _type: IN_TOTO_STATEMENT_TYPE, subject: SUBJECT, predicateType: OPENVEX_PREDICATE_TYPE } as const;
    assert.throws(() => signDocument(head, "[1]\n", key), TypeError);
    assert.throws(() => signDocument(head, "", key), TypeError);
  });

  it("serialiseBundle writes exactly JSON.stringify(bundle, null, 2) and a newline, for a signed payload and for payloads that need escaping", () => {
    const key = freshKey();
    const signed = toSigstoreBundle(signStatement(openVexStatement("ghcr.io/example/app", DIGEST_HEX, { "@context": "x" }), key), key.hint);
    const odd = (payload: string): SigstoreBundleJson => ({ ...signed, dsseEnvelope: { ...signed.dsseEnvelope, payload } });
    for (const bundle of [signed, odd(""), odd('a"b'), odd("a\\b"), odd("é"), odd("\u2028")]) {
      assert.equal(serialiseBundle(bundle), `${JSON.stringify(bundle, null, 2)}\n`, bundle.dsseEnvelope.payload);
    }
    assert.equal(signed.mediaType, BUNDLE_MEDIA_TYPE);
  });
});
