/**
 * Turns one scored job attempt into its signed VEX: the OpenVEX document (validated), the
 * in-toto statement, the DSSE envelope and the Sigstore bundle.
 */
import type { JobRef, Verdict } from "@vexxy/proto";
import { OpenVexWriter } from "./writers/openvex-writer.js";
import { productIdentity } from "./product-identity.js";
import { openVexStatement, signStatement } from "./signing/dsse.js";
import { toSigstoreBundle } from "./signing/sigstore-bundle.js";
import type { SigningKey } from "./signing/signing-key.js";

export interface VexSettings {
  readonly author: string;
  readonly idBase: string;
  readonly tooling: string;
}

export interface ProducedVex {
  readonly documentId: string;
  readonly documentJson: string;
  readonly bundleJson: string;
}

/** The document id of a job attempt's VEX: stable, so a redo overwrites rather than adds. */
export function documentIdOf(idBase: string, jobId: string, attempt: number): string {
  return `${idBase}${jobId}/${attempt}`;
}

/**
 * Writes and signs the VEX of a job attempt.
 * @throws InvalidVexDocumentError when the document would not validate.
 */
export function produceVex(job: JobRef, verdicts: readonly Verdict[], key: SigningKey, settings: VexSettings, now = new Date()): ProducedVex {
  const product = productIdentity(job.imageRef, job.imageDigest);
  const documentId = documentIdOf(settings.idBase, job.jobId, job.attempt);
  const written = new OpenVexWriter().write({
    documentId,
    author: settings.author,
    timestamp: now,
    productPurl: product.purl,
    verdicts,
    tooling: settings.tooling,
  });
  const envelope = signStatement(openVexStatement(product.subjectName, product.digestHex, written.document), key);
  return { documentId, documentJson: written.json, bundleJson: `${JSON.stringify(toSigstoreBundle(envelope, key.hint), null, 2)}\n` };
}
