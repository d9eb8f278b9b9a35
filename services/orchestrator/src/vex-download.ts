/**
 * Large VEX delivery. A job's OpenVEX document and bundle grow with its findings (~3 KiB a
 * finding: 20,000 findings make a ~60 MiB document), past gRPC's default 4 MiB message limit
 * of grpc-js clients. GetAnalysisResults leaves them out above INLINE_VEX_MAX_BYTES (with
 * their sizes and digests, which the job row keeps), and DownloadVex streams any of them in
 * chunks of at most 1 MiB, read from object storage with the recorded sha256 checked first.
 * The request's `format` picks the OpenVEX (default) or the CycloneDX VEX's document and bundle.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BlobStore } from "@vexxy/blobstore";
import { FailedPreconditionError, InvalidFieldError } from "@vexxy/platform";
import {
  DownloadVexResponseSchema,
  VexArtifact,
  VexBlobInfoSchema,
  VexFormat,
  type DownloadVexRequest,
  type DownloadVexResponse,
  type VexBlobInfo,
} from "@vexxy/proto";
import type { IAnalysisJob, StoredBlobRef, StoredVexFormat } from "./store/entities.js";

/** Above this many bytes (document + bundle), GetAnalysisResults leaves both out. */
export const INLINE_VEX_MAX_BYTES = 2 * 1024 * 1024;
/** Largest (and default) DownloadVex chunk. */
export const MAX_VEX_CHUNK_BYTES = 1024 * 1024;
const MIN_VEX_CHUNK_BYTES = 1024;

/** Size and sha256 of a stored artifact, as the API gives them. Never throws. */
export function blobInfo(ref: StoredBlobRef): VexBlobInfo {
  return create(VexBlobInfoSchema, { size: BigInt(ref.size), sha256: ref.sha256 });
}

/** Whether the document and bundle are too large to send inline. Never throws. */
export function vexTooLargeInline(document: StoredBlobRef, bundle: StoredBlobRef): boolean {
  return document.size + bundle.size > INLINE_VEX_MAX_BYTES;
}

/** The stored format a request's `format` names. @throws InvalidFieldError naming format for a value outside VexFormat. */
function formatOf(format: VexFormat): StoredVexFormat {
  switch (format) {
    case VexFormat.UNSPECIFIED:
    case VexFormat.OPENVEX:
      return "openvex";
    case VexFormat.CYCLONEDX:
      return "cyclonedx";
    default:
      throw new InvalidFieldError("format", `format ${String(format)} is not a VexFormat (VEX_FORMAT_OPENVEX or VEX_FORMAT_CYCLONEDX)`);
  }
}

const FORMAT_NAMES: Readonly<Record<StoredVexFormat, string>> = { openvex: "OpenVEX", cyclonedx: "CycloneDX" };

/** The document and bundle of one format: OpenVEX from the row's own columns, another from its vexDocuments. */
function formatRefs(job: IAnalysisJob, format: StoredVexFormat): { document: StoredBlobRef | null | undefined; bundle: StoredBlobRef | null | undefined } {
  if (format === "openvex") return { document: job.vexDocument, bundle: job.vexBundle };
  const stored = (job.vexDocuments ?? []).find((d) => d.format === format);
  return { document: stored?.document, bundle: stored?.bundle };
}

function artifactRef(
  job: IAnalysisJob,
  artifact: VexArtifact,
  format: StoredVexFormat,
): { ref: StoredBlobRef | null | undefined; contentType: string; field: string } {
  // "document" and "bundle" for OpenVEX, as before formats existed; the format named for another.
  const name = format === "openvex" ? "" : `${FORMAT_NAMES[format]} `;
  switch (artifact) {
    case VexArtifact.UNSPECIFIED:
    case VexArtifact.DOCUMENT:
      return { ref: formatRefs(job, format).document, contentType: "application/json", field: `${name}document` };
    case VexArtifact.BUNDLE:
      return { ref: formatRefs(job, format).bundle, contentType: "application/json", field: `${name}bundle` };
    case VexArtifact.PUBLIC_KEY:
      return { ref: job.vexPublicKey, contentType: "application/x-pem-file", field: "public key" };
    default:
      throw new InvalidFieldError("artifact", `artifact ${String(artifact)} is not a VexArtifact`);
  }
}

/**
 * Streams one artifact of a COMPLETE job: the first message holds total_size, sha256 and
 * content_type with the first chunk; an empty artifact is one message with no data.
 * @throws InvalidFieldError (chunk_size out of range, unknown artifact or format),
 *   FailedPreconditionError (job not COMPLETE; it has no signed VEX: a scan without findings; or
 *   none in the format asked for: CycloneDX not in its vex_formats), ConnectError DataLoss (the
 *   blob is gone or does not match its recorded sha256).
 */
export async function* streamVex(job: IAnalysisJob, req: DownloadVexRequest, blobs: BlobStore, signal: AbortSignal): AsyncGenerator<DownloadVexResponse> {
  const chunk = req.chunkSize === 0 ? MAX_VEX_CHUNK_BYTES : req.chunkSize;
  if (chunk < MIN_VEX_CHUNK_BYTES || chunk > MAX_VEX_CHUNK_BYTES) {
    throw new InvalidFieldError("chunk_size", `chunk_size must be 0 (1 MiB) or ${MIN_VEX_CHUNK_BYTES}..${MAX_VEX_CHUNK_BYTES} (got ${req.chunkSize})`);
  }
  const format = formatOf(req.format);
  if (job.status !== "COMPLETE") {
    throw new FailedPreconditionError(`job_id ${job.id}: the VEX exists only for a COMPLETE analysis (status is ${job.status}, phase ${job.currentPhase})`);
  }
  const { ref, contentType, field } = artifactRef(job, req.artifact, format);
  if (ref == null) {
    const asked = format === "openvex" ? [] : (job.config.vexFormats ?? ["openvex"]);
    if (format !== "openvex" && !asked.includes(format)) {
      throw new FailedPreconditionError(
        `job_id ${job.id}: format ${FORMAT_NAMES[format]}: the analysis was not asked for a ${FORMAT_NAMES[format]} VEX (its vex_formats: ${asked.join(", ")})`,
      );
    }
    throw new FailedPreconditionError(`job_id ${job.id}: the analysis has no signed VEX ${field} (a scan without findings has none)`);
  }
  let bytes: Buffer;
  try {
    bytes = await blobs.getVerified(ref);
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "BlobNotFoundError") throw new ConnectError(`job_id ${job.id}: the VEX ${field} ${ref.key} is no longer in object storage`, Code.DataLoss);
    if (name === "BlobDigestMismatchError") {
      throw new ConnectError(`job_id ${job.id}: the VEX ${field} ${ref.key} does not match its recorded sha256 ${ref.sha256}`, Code.DataLoss);
    }
    throw error;
  }
  for (let offset = 0; offset === 0 || offset < bytes.length; offset += chunk) {
    if (signal.aborted) return;
    yield create(DownloadVexResponseSchema, {
      offset: BigInt(offset),
      data: bytes.subarray(offset, offset + chunk),
      ...(offset === 0 ? { totalSize: BigInt(bytes.length), sha256: ref.sha256, contentType } : {}),
    });
  }
}
