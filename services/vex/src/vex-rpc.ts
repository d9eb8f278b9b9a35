/**
 * The VexService RPCs: a job's signed VEX (latest attempt), the service's public key, and
 * verification of a Sigstore bundle against that key.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import { InvalidFieldError, NotFoundError } from "@vexxy/platform";
import { GetSigningKeyResponseSchema, GetVexResponseSchema, VerifyBundleResponseSchema, type VexService } from "@vexxy/proto";
import { BundleVerificationError, VexNotReadyError } from "./errors.js";
import type { SigningKey } from "./signing/signing-key.js";
import { verifyBundle } from "./signing/verify-bundle.js";
import { VEX_STAGE, vexKeys } from "./store/vex-keys.js";

/** What the handlers read. */
export interface VexRpcDeps {
  readonly ledger: StageLedger;
  readonly blobs: BlobStore;
  readonly key: SigningKey;
}

/**
 * Builds the VexService implementation. Handlers throw InvalidFieldError (job_id or
 * bundle_json empty), NotFoundError (no VEX stage for the job) and VexNotReadyError (the
 * latest attempt is not signed: running, failed or cancelled).
 */
export function vexHandlers(deps: VexRpcDeps): ServiceImpl<typeof VexService> {
  return {
    async getVex(req) {
      const jobId = req.jobId.trim();
      if (jobId === "") throw new InvalidFieldError("job_id", "job_id is required");
      const rows = (await deps.ledger.listByJob(jobId)).filter((r) => r.stage === VEX_STAGE);
      const latest = rows.sort((a, b) => b.attempt - a.attempt)[0];
      if (latest === undefined) throw new NotFoundError(`job_id ${jobId}: no VEX for this job`);
      if (latest.state !== "done") throw new VexNotReadyError(`job_id ${jobId}: the VEX of attempt ${latest.attempt} is not signed (${latest.state})`);
      const keys = vexKeys(jobId, latest.attempt);
      const [doc, bundle] = await Promise.all([deps.blobs.get(keys.document), deps.blobs.get(keys.bundle)]);
      return create(GetVexResponseSchema, {
        documentId: String(latest.outcome["documentId"] ?? ""),
        documentJson: doc.toString("utf8"),
        bundleJson: bundle.toString("utf8"),
      });
    },
    getSigningKey() {
      return create(GetSigningKeyResponseSchema, { publicKeyPem: deps.key.publicKeyPem, keyHint: deps.key.hint });
    },
    verifyBundle(req) {
      if (req.bundleJson.trim() === "") throw new InvalidFieldError("bundle_json", "bundle_json is required");
      try {
        const statement = verifyBundle(req.bundleJson, deps.key.publicKeyPem);
        return create(VerifyBundleResponseSchema, { verified: true, documentJson: JSON.stringify(statement.predicate) });
      } catch (error) {
        if (!(error instanceof BundleVerificationError)) throw error;
        return create(VerifyBundleResponseSchema, { verified: false, error: error.message });
      }
    },
  };
}
