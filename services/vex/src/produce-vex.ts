/**
 * Turns one scored job attempt into its signed VEX: the OpenVEX document (validated), the
 * in-toto statement about the image, its DSSE envelope and the Sigstore bundle holding it.
 */
import type { JobRef, Verdict } from "@vexxy/proto";
import { productIdentity } from "./product-identity.js";
import { openVexStatement, signStatement } from "./signing/dsse.js";
import type { SigningKey } from "./signing/signing-key.js";
import { serialiseBundle, toSigstoreBundle } from "./signing/sigstore-bundle.js";
import { vexWriter } from "./writers/writer-registry.js";

/** Who states the VEX and how its ids are formed (from config). */
export interface VexSettings {
  readonly author: string;
  /** Prefix of document ids; the id is `${idBase}${jobId}/${attempt}`. */
  readonly idBase: string;
  readonly tooling: string;
}

/** A job attempt's signed VEX, serialised as stored. */
export interface ProducedVex {
  readonly documentId: string;
  readonly productPurl: string;
  readonly documentJson: string;
  readonly bundleJson: string;
}

/**
 * The document id of a job attempt's VEX: stable, so a redone attempt overwrites its own
 * document instead of adding one, and unique per (job, attempt).
 */
export function documentIdOf(idBase: string, jobId: string, attempt: number): string {
  return `${idBase}${encodeURIComponent(jobId)}/${attempt}`;
}

/**
 * Writes and signs the OpenVEX of a job attempt.
 * @throws ProductIdentityError when the job's image_ref or image_digest gives no product purl;
 *   InvalidVexDocumentError when the document would be invalid (no verdicts, an unjustified
 *   not_affected, a schema violation).
 */
export function produceVex(job: JobRef, verdicts: readonly Verdict[], key: SigningKey, settings: VexSettings, now: Date = new Date()): ProducedVex {
  const product = productIdentity(job.imageRef, job.imageDigest);
  const documentId = documentIdOf(settings.idBase, job.jobId, job.attempt);
  const written = vexWriter("openvex").write({ documentId, author: settings.author, timestamp: now, productPurl: product.purl, verdicts, tooling: settings.tooling });
  const envelope = signStatement(openVexStatement(product.subjectName, product.digestHex, written.document), key);
  return { documentId, productPurl: product.purl, documentJson: written.json, bundleJson: serialiseBundle(toSigstoreBundle(envelope, key.hint)) };
}
