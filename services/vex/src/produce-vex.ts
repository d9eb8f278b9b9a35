/**
 * Turns one scored job attempt into its signed VEX: the OpenVEX document (validated), the
 * in-toto statement about the image, its DSSE envelope and the Sigstore bundle holding it.
 */
import type { JobRef, Verdict } from "@vexxy/proto";
import { checkConformance, localScanContext, registryScanContext, requireApplicable, type ConformanceReport } from "./conformance/self-check.js";
import type { VexDocument } from "./conformance/go-vex-match.js";
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
  /** The self-check against a registry scan of the image by name and digest. */
  readonly conformance: ConformanceReport;
  /** With tag identifiers: the self-check against Grype scanning the local layout or archive. */
  readonly localConformance?: ConformanceReport;
}

/**
 * The document id of a job attempt's VEX: stable, so a redone attempt overwrites its own
 * document instead of adding one, and unique per (job, attempt).
 */
export function documentIdOf(idBase: string, jobId: string, attempt: number): string {
  return `${idBase}${encodeURIComponent(jobId)}/${attempt}`;
}

/**
 * Writes the OpenVEX of a job attempt, runs the conformance self-check and signs it.
 * @throws ProductIdentityError when the job gives no product purl (no repository name, a bad
 *   digest); InvalidVexDocumentError when the document would be invalid (no verdicts, an
 *   unjustified not_affected, a schema violation); VexNotApplicableError when a not_affected
 *   statement would be applied by neither Grype nor Trivy scanning the image by name and digest.
 */
export function produceVex(job: JobRef, verdicts: readonly Verdict[], key: SigningKey, settings: VexSettings, now: Date = new Date()): ProducedVex {
  const product = productIdentity({ imageRef: job.imageRef, imageDigest: job.imageDigest, imageName: job.imageName, tagIdentifiers: job.tagIdentifiers });
  const documentId = documentIdOf(settings.idBase, job.jobId, job.attempt);
  const written = vexWriter("openvex").write({
    documentId,
    author: settings.author,
    timestamp: now,
    products: product.products,
    verdicts,
    tooling: settings.tooling,
  });
  const doc = written.document as VexDocument;
  const conformance = checkConformance(doc, written.statementVerdicts, registryScanContext(product));
  requireApplicable(conformance);
  const writtenAs = job.imageName.trim() !== "" ? job.imageName.trim().replace(/:[\w][\w.-]*$/, "") : product.subjectName;
  const localConformance = product.tagProducts.length > 0 ? checkConformance(doc, written.statementVerdicts, localScanContext(product, writtenAs)) : undefined;
  const envelope = signStatement(openVexStatement(product.subjectName, product.digestHex, written.document), key);
  return {
    documentId,
    productPurl: product.purl,
    documentJson: written.json,
    bundleJson: serialiseBundle(toSigstoreBundle(envelope, key.hint)),
    conformance,
    ...(localConformance !== undefined ? { localConformance } : {}),
  };
}
