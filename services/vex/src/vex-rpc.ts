/**
 * The VexService RPCs: a job's signed VEX (latest attempt), the service's public keys (the
 * active one and those retired by rotation), and verification of a Sigstore bundle against
 * them: VerifyBundle (pass/fail, the active key only, kept for its callers) and VerifyVex
 * (every key, the subject digest, and a reason code when it fails).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import { InvalidFieldError, NotFoundError } from "@vexxy/platform";
import { viewOf } from "@vexxy/stage";
import { createPublicKey } from "node:crypto";
import { GetSigningKeyResponseSchema, GetVexResponseSchema, VerifyBundleResponseSchema, VerifyVexResponseSchema, type VexService } from "@vexxy/proto";
import { BundleVerificationError, VexNotReadyError } from "./errors.js";
import { keyHint } from "./signing/signing-key.js";
import type { KeyRing } from "./signing/key-ring.js";
import { verifyBundle } from "./signing/verify-bundle.js";
import { isImageDigest, verifyVex, type TrustedKey } from "./signing/verify-vex.js";
import { VEX_RECORD_FORMAT, VEX_STAGE, vexKeys } from "./store/vex-keys.js";

/** What the handlers read. */
export interface VexRpcDeps {
  readonly ledger: StageLedger;
  readonly blobs: BlobStore;
  readonly keys: KeyRing;
}

function trustedKeysFrom(pems: readonly string[]): TrustedKey[] {
  return pems.map((pem, i) => {
    try {
      const publicKey = createPublicKey(pem);
      return { keyId: keyHint(publicKey), publicKey };
    } catch (cause) {
      throw new InvalidFieldError(`public_key_pems[${i}]`, `public_key_pems[${i}] is not a PEM public key`, { cause });
    }
  });
}

/**
 * Builds the VexService implementation. Handlers throw InvalidFieldError (job_id or
 * bundle_json empty, expected_digest not sha256:<64 hex>, a public_key_pems entry not a key), NotFoundError (no VEX stage for the job) and VexNotReadyError (the
 * latest attempt is not signed: running, failed or cancelled).
 */
export function vexHandlers(deps: VexRpcDeps): ServiceImpl<typeof VexService> {
  return {
    async getVex(req) {
      const jobId = req.jobId.trim();
      if (jobId === "") throw new InvalidFieldError("job_id", "job_id is required");
      const rows = (await deps.ledger.listByJob(jobId)).filter((r) => r.stage === VEX_STAGE).map((r) => viewOf(VEX_RECORD_FORMAT, r));
      const latest = rows.sort((a, b) => b.attempt - a.attempt)[0];
      if (latest === undefined) throw new NotFoundError(`job_id ${jobId}: no VEX for this job`);
      if (latest.state !== "done") throw new VexNotReadyError(`job_id ${jobId}: the VEX of attempt ${latest.attempt} is not signed (${latest.state})`);
      const keys = vexKeys(jobId, latest.attempt);
      const [doc, bundle] = await Promise.all([deps.blobs.get(keys.document), deps.blobs.get(keys.bundle)]);
      return create(GetVexResponseSchema, {
        documentId: latest.event?.documentId ?? "",
        documentJson: doc.toString("utf8"),
        bundleJson: bundle.toString("utf8"),
      });
    },
    getSigningKey() {
      const active = deps.keys.active;
      return create(GetSigningKeyResponseSchema, {
        publicKeyPem: active.publicKeyPem,
        keyHint: active.hint,
        keys: deps.keys.keys.map((k) => ({ keyId: k.keyId, publicKeyPem: k.publicKeyPem, active: k.active })),
      });
    },
    verifyBundle(req) {
      if (req.bundleJson.trim() === "") throw new InvalidFieldError("bundle_json", "bundle_json is required");
      try {
        const statement = verifyBundle(req.bundleJson, deps.keys.active.publicKeyPem);
        return create(VerifyBundleResponseSchema, { verified: true, documentJson: JSON.stringify(statement.predicate) });
      } catch (error) {
        if (!(error instanceof BundleVerificationError)) throw error;
        return create(VerifyBundleResponseSchema, { verified: false, error: error.message });
      }
    },
    verifyVex(req) {
      if (req.bundleJson.trim() === "") throw new InvalidFieldError("bundle_json", "bundle_json is required");
      const expected = req.expectedDigest.trim();
      if (expected !== "" && !isImageDigest(expected)) {
        throw new InvalidFieldError("expected_digest", `expected_digest must be sha256:<64 lowercase hex> (got ${JSON.stringify(expected.slice(0, 80))})`);
      }
      const trusted = req.publicKeyPems.length > 0 ? trustedKeysFrom(req.publicKeyPems) : deps.keys.keys;
      const result = verifyVex(req.bundleJson, trusted, expected !== "" ? { expectedDigest: expected } : {});
      if (!result.verified) {
        return create(VerifyVexResponseSchema, { verified: false, reason: result.reason, message: result.message, keyId: result.keyId ?? "" });
      }
      return create(VerifyVexResponseSchema, {
        verified: true,
        message: result.message,
        keyId: result.keyId,
        predicateType: result.predicateType,
        subjectDigests: [...result.subjectDigests],
        documentJson: JSON.stringify(result.statement.predicate),
      });
    },
  };
}
