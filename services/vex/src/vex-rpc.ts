/** The VexService RPCs: read a job's signed VEX, the signing key, and verify a bundle. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetSigningKeyResponseSchema, GetVexResponseSchema, VerifyBundleResponseSchema, type VexService } from "@vexxy/proto";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import { InvalidFieldError, NotFoundError } from "@vexxy/platform";
import type { SigningKey } from "./signing/signing-key.js";
import { verifySigstoreBundle } from "./signing/sigstore-bundle.js";
import { VEX_STAGE, vexKeys } from "./store/vex-keys.js";

/** Builds the VexService implementation. */
export function vexHandlers(deps: { ledger: StageLedger; blobs: BlobStore; key: SigningKey }): ServiceImpl<typeof VexService> {
  return {
    async getVex(req) {
      if (req.jobId.trim() === "") throw new InvalidFieldError("job_id", "job_id is required");
      const rows = (await deps.ledger.listByJob(req.jobId)).filter((r) => r.stage === VEX_STAGE && r.state === "done");
      const latest = rows.sort((a, b) => b.attempt - a.attempt)[0];
      if (latest === undefined) throw new NotFoundError(`job_id ${req.jobId}: no signed VEX`);
      const keys = vexKeys(req.jobId, latest.attempt);
      const [doc, bundle] = await Promise.all([deps.blobs.get(keys.document), deps.blobs.get(keys.bundle)]);
      return create(GetVexResponseSchema, { documentId: String(latest.outcome["documentId"] ?? ""), documentJson: doc.toString("utf8"), bundleJson: bundle.toString("utf8") });
    },
    async getSigningKey() {
      return create(GetSigningKeyResponseSchema, { publicKeyPem: deps.key.publicKeyPem, keyHint: deps.key.hint });
    },
    async verifyBundle(req) {
      if (req.bundleJson.trim() === "") throw new InvalidFieldError("bundle_json", "bundle_json is required");
      try {
        const statement = verifySigstoreBundle(req.bundleJson, deps.key.publicKeyPem);
        return create(VerifyBundleResponseSchema, { verified: true, documentJson: JSON.stringify(statement["predicate"] ?? null) });
      } catch (err) {
        return create(VerifyBundleResponseSchema, { verified: false, error: err instanceof Error ? err.message : String(err) });
      }
    },
  };
}
