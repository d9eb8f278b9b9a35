/**
 * Turns one scored job attempt into its signed VEX in each format the job asks for
 * (JobRef.vex_formats; none: OpenVEX): the document (validated), the in-toto statement about the
 * image, its DSSE envelope and the Sigstore bundle holding it; with CycloneDX also the
 * runtime-filtered CycloneDX SBOM. The OpenVEX document is written (and signed) in every case:
 * the conformance self-check, which gates every format, reads it.
 */
import { VexDocumentFormat, type JobRef, type Verdict } from "@vexxy/proto";
import { checkConformance, localScanContext, registryScanContext, requireApplicable, type ConformanceReport } from "./conformance/self-check.js";
import type { VexDocument } from "./conformance/go-vex-match.js";
import { productIdentity } from "./product-identity.js";
import { CYCLONEDX_PREDICATE_TYPE, IN_TOTO_STATEMENT_TYPE, OPENVEX_PREDICATE_TYPE, signDocument } from "./signing/dsse.js";
import type { SigningKey } from "./signing/signing-key.js";
import { serialiseBundle, toSigstoreBundle } from "./signing/sigstore-bundle.js";
import { writeRuntimeSbom } from "./writers/cyclonedx-runtime-sbom.js";
import { groupVerdicts } from "./writers/statement-groups.js";
import type { VexFormat, VexInput } from "./writers/vex-writer.js";
import { vexWriter } from "./writers/writer-registry.js";

/** Who states the VEX and how its ids are formed (from config). */
export interface VexSettings {
  readonly author: string;
  /** Prefix of document ids; the id is `${idBase}${jobId}/${attempt}`. */
  readonly idBase: string;
  readonly tooling: string;
}

/** One format's signed document, serialised as stored. */
export interface ProducedDocument {
  readonly format: VexFormat;
  /** OpenVEX @id, or the CycloneDX serialNumber. */
  readonly documentId: string;
  readonly documentJson: string;
  readonly bundleJson: string;
  /** CycloneDX only: the runtime-filtered SBOM. */
  readonly runtimeSbomJson?: string;
}

/** A job attempt's signed VEX, serialised as stored. */
export interface ProducedVex {
  /** The OpenVEX document's (written whatever the formats: the self-check reads it). */
  readonly documentId: string;
  readonly productPurl: string;
  readonly documentJson: string;
  readonly bundleJson: string;
  /** The self-check against a registry scan of the image by name and digest. */
  readonly conformance: ConformanceReport;
  /** With tag identifiers: the self-check against Grype scanning the local layout or archive. */
  readonly localConformance?: ConformanceReport;
  /** The formats the job asked for, in its order (the OpenVEX entry repeats the fields above). */
  readonly documents: readonly ProducedDocument[];
}

const FORMAT_NAMES: Readonly<Partial<Record<VexDocumentFormat, VexFormat>>> = {
  [VexDocumentFormat.OPENVEX]: "openvex",
  [VexDocumentFormat.CYCLONEDX]: "cyclonedx",
};

/**
 * The formats a job asks for, each once, in its order; OpenVEX when it names none. An unset or
 * unknown value (the orchestrator refuses them at submit) is skipped. Never throws.
 */
export function vexFormatsOf(job: Pick<JobRef, "vexFormats">): VexFormat[] {
  const formats = [...new Set(job.vexFormats.map((f) => FORMAT_NAMES[f]).filter((f): f is VexFormat => f !== undefined))];
  return formats.length > 0 ? formats : ["openvex"];
}

/**
 * The document id of a job attempt's VEX: stable, so a redone attempt overwrites its own
 * document instead of adding one, and unique per (job, attempt).
 */
export function documentIdOf(idBase: string, jobId: string, attempt: number): string {
  return `${idBase}${encodeURIComponent(jobId)}/${attempt}`;
}

/**
 * Writes the VEX of a job attempt in each format it asks for, runs the conformance self-check
 * and signs each document.
 * @throws ProductIdentityError when the job gives no product purl (no repository name, a bad
 *   digest); InvalidVexDocumentError when the document would be invalid (no verdicts, an
 *   unjustified not_affected, a schema violation); VexNotApplicableError when a not_affected
 *   statement would be applied by neither Grype nor Trivy scanning the image by name and digest.
 */
export function produceVex(job: JobRef, verdicts: readonly Verdict[], key: SigningKey, settings: VexSettings, now: Date = new Date()): ProducedVex {
  const product = productIdentity({ imageRef: job.imageRef, imageDigest: job.imageDigest, imageName: job.imageName, tagIdentifiers: job.tagIdentifiers });
  const documentId = documentIdOf(settings.idBase, job.jobId, job.attempt);
  const input: VexInput = {
    documentId,
    author: settings.author,
    timestamp: now,
    products: product.products,
    verdicts,
    tooling: settings.tooling,
    groups: groupVerdicts(verdicts),
  };
  const written = vexWriter("openvex").write(input);
  const doc = written.document as VexDocument;
  const conformance = checkConformance(doc, written.statementVerdicts, registryScanContext(product));
  requireApplicable(conformance);
  const writtenAs = job.imageName.trim() !== "" ? job.imageName.trim().replace(/:[\w][\w.-]*$/, "") : product.subjectName;
  const localConformance = product.tagProducts.length > 0 ? checkConformance(doc, written.statementVerdicts, localScanContext(product, writtenAs)) : undefined;
  const subject = [{ name: product.subjectName, digest: { sha256: product.digestHex } }];
  // The stored bytes are the signed ones: each document is serialised once.
  const envelope = signDocument({ _type: IN_TOTO_STATEMENT_TYPE, subject, predicateType: OPENVEX_PREDICATE_TYPE }, written.json, key);
  const openVex: ProducedDocument = {
    format: "openvex",
    documentId,
    documentJson: written.json,
    bundleJson: serialiseBundle(toSigstoreBundle(envelope, key.hint)),
  };
  const documents = vexFormatsOf(job).map((format): ProducedDocument => {
    if (format === "openvex") return openVex;
    const cdx = vexWriter(format).write(input);
    const sbom = writeRuntimeSbom(input);
    const cdxEnvelope = signDocument({ _type: IN_TOTO_STATEMENT_TYPE, subject, predicateType: CYCLONEDX_PREDICATE_TYPE }, cdx.json, key);
    return {
      format,
      documentId: String(cdx.document["serialNumber"]),
      documentJson: cdx.json,
      bundleJson: serialiseBundle(toSigstoreBundle(cdxEnvelope, key.hint)),
      runtimeSbomJson: sbom.json,
    };
  });
  return {
    documentId,
    productPurl: product.purl,
    documentJson: openVex.documentJson,
    bundleJson: openVex.bundleJson,
    conformance,
    ...(localConformance !== undefined ? { localConformance } : {}),
    documents,
  };
}
