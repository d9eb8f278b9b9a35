/**
 * Consumes vexxy.reachability.scored (durable "vex") and vexxy.analysis.cancelled.
 *
 * reachability.scored: claims (job, "vex", attempt) in the ledger, reads the verdicts from the
 * blob the event names (its sha256 checked; events carry no verdict lists), writes the VEX in each
 * format the job asks for (job.vex_formats; none: OpenVEX), each validated, runs the conformance
 * self-check (would Grype and Trivy apply each not_affected statement?) and signs each document
 * (in-toto statement, DSSE, Sigstore bundle), stores jobs/<job>/attempts/<n>/{openvex.json,
 * openvex.sigstore.json | cyclonedx-vex.json, cyclonedx-vex.sigstore.json, sbom.runtime.cdx.json;
 * vex-signing.pub.pem, vex-conformance.json}, records the vex.signed event in the ledger row
 * (state done) and publishes vexxy.vex.signed with one VexDocumentRef per format (the OpenVEX one
 * also in document_id/document/bundle), the verdicts blob's ref and count and the profile summary
 * passed through.
 * A verdicts blob that is missing or does not match its sha256 publishes vexxy.analysis.failed
 * {stage "vex", reason "input_missing" | "input_altered", retryable true}: a new attempt scores again.
 * A job that yields no valid document (no verdicts, an unjustified not_affected, no repository
 * name for the product, a not_affected statement neither tool would apply) publishes
 * vexxy.analysis.failed {stage "vex", retryable false} and records it.
 *
 * The claim, replay, record and publish are the shared stage lifecycle (@vexxy/stage).
 * Failure: anything else (store, database or bus unreachable) throws, so the event is
 * redelivered with backoff. Redelivery: a done row re-publishes the recorded vex.signed (same
 * Nats-Msg-Id, so the stream de-duplicates it) and writes nothing, so a job attempt never gets
 * a second document; a failed row re-publishes its analysis.failed; a "started" row means an
 * earlier delivery died mid-way, and the work is done again under the same keys and document id.
 * analysis.cancelled: marks the attempt's row cancelled when not yet signed, so a later scored
 * event of that attempt is acknowledged and dropped.
 */
import { create, fromJsonString } from "@bufbuild/protobuf";
import { Durables, Subjects, type EventBus, type InboundEventOf, type Subscription } from "@vexxy/events";
import type { BlobInfo, BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import type { Logger } from "@vexxy/platform";
import { StageFailure, StageLifecycle } from "@vexxy/stage";
import {
  BlobRefSchema,
  ReachabilityScoredSchema,
  VexConformanceSchema,
  VexDocumentFormat,
  VexDocumentRefSchema,
  VexSignedSchema,
  type BlobRef,
  type JobRef,
  type ReachabilityScored,
  type Verdict,
  type VexDocumentRef,
  type VexSigned,
} from "@vexxy/proto";
import { InvalidVexDocumentError, ProductIdentityError, VexNotApplicableError } from "../errors.js";
import { produceVex, type ProducedDocument, type VexSettings } from "../produce-vex.js";
import type { SigningKey } from "../signing/signing-key.js";
import { VEX_RECORD_FORMAT, VEX_STAGE, vexDocumentKeys, vexKeys } from "../store/vex-keys.js";

/** What the consumer needs; service.ts builds it. */
export interface VexStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly key: SigningKey;
  readonly settings: VexSettings;
  readonly logger: Logger;
}

const VEX_SUBJECTS = [Subjects.reachabilityScored, Subjects.analysisCancelled] as const;

/** The VEX stage's lifecycle: one per consumer (a started row is worked again). */
export function vexLifecycle(deps: Pick<VexStageDeps, "bus" | "ledger" | "logger">): StageLifecycle<typeof Subjects.vexSigned> {
  return new StageLifecycle({ ...VEX_RECORD_FORMAT, stage: VEX_STAGE, onStarted: "redo" }, deps);
}

/** Starts the durable consumer. @throws when the bus cannot create it. */
export async function consumeScoredEvents(deps: VexStageDeps, ackWaitMs: number): Promise<Subscription> {
  const lifecycle = vexLifecycle(deps);
  return await deps.bus.consume({ durable: Durables.vex, subjects: VEX_SUBJECTS, ackWaitMs }, (event) => handleVexEvent(deps, event, lifecycle));
}

/**
 * Handles one delivery (exported for tests).
 * @throws when the work must be redelivered (object store, database or bus unreachable).
 */
export async function handleVexEvent(deps: VexStageDeps, event: InboundEventOf<(typeof VEX_SUBJECTS)[number]>, lifecycle = vexLifecycle(deps)): Promise<void> {
  if (event.subject === Subjects.reachabilityScored) {
    const scored = event.payload;
    await lifecycle.run(scored.job, ({ job }) => signVex(deps, job, scored));
  } else {
    await lifecycle.cancel(event.payload.job, event.payload.reason);
  }
}

function blobRef(info: BlobInfo): BlobRef {
  return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
}

/**
 * The work: verdicts read back, documents written, validated, self-checked, signed and stored.
 * @throws StageFailure when no valid document can come of this attempt; anything else to be redelivered.
 */
async function signVex(deps: VexStageDeps, job: JobRef, scored: ReachabilityScored): Promise<VexSigned> {
  const verdicts = await loadVerdicts(deps.blobs, scored, job);
  let produced: ReturnType<typeof produceVex>;
  try {
    produced = produceVex(job, verdicts, deps.key, deps.settings);
  } catch (error) {
    const reason = failureReason(error, verdicts);
    if (reason === undefined) throw error;
    throw new StageFailure(reason, (error as Error).message, false, { cause: error });
  }
  const keys = vexKeys(job.jobId, job.attempt);
  const report = { registry: produced.conformance, ...(produced.localConformance !== undefined ? { local: produced.localConformance } : {}) };
  const [documents, publicKey, conformanceBlob] = await Promise.all([
    Promise.all(produced.documents.map((d) => storeDocument(deps.blobs, job, d))),
    deps.blobs.put(keys.publicKey, Buffer.from(deps.key.publicKeyPem), { contentType: "application/x-pem-file" }),
    deps.blobs.put(keys.conformance, Buffer.from(`${JSON.stringify(report, null, 2)}\n`), { contentType: "application/json" }),
  ]);
  const openVex = documents.find((d) => d.format === VexDocumentFormat.OPENVEX);
  const conformance = create(VexConformanceSchema, {
    notAffected: produced.conformance.notAffected,
    grypeSuppressed: produced.conformance.grypeSuppressed,
    trivySuppressed: produced.conformance.trivySuppressed,
    summary: produced.conformance.summary,
    context: produced.conformance.context,
    ...(produced.localConformance !== undefined ? { grypeLocalSuppressed: produced.localConformance.grypeSuppressed } : {}),
    report: blobRef(conformanceBlob),
  });
  const signed = create(VexSignedSchema, {
    job,
    documentId: openVex?.documentId ?? documents[0]?.documentId ?? produced.documentId,
    ...(openVex?.document !== undefined ? { document: openVex.document } : {}),
    ...(openVex?.bundle !== undefined ? { bundle: openVex.bundle } : {}),
    documents,
    publicKey: blobRef(publicKey),
    // Only an event from a publisher older than blob-only events lacks the blob; its (small) inline list passes through.
    ...(scored.verdictsBlob !== undefined && scored.verdictsBlob.key !== "" ? { verdictsBlob: scored.verdictsBlob } : { verdicts }),
    verdictCount: verdicts.length,
    conformance,
    ...(scored.profile !== undefined ? { profile: scored.profile } : {}),
  });
  deps.logger.info("VEX signed", {
    job: job.jobId,
    attempt: job.attempt,
    documentId: produced.documentId,
    productPurl: produced.productPurl,
    keyHint: deps.key.hint,
    formats: produced.documents.map((d) => d.format).join(","),
    verdicts: verdicts.length,
    conformance: produced.conformance.summary,
  });
  return signed;
}

const WIRE_FORMAT: Readonly<Record<ProducedDocument["format"], VexDocumentFormat>> = {
  openvex: VexDocumentFormat.OPENVEX,
  cyclonedx: VexDocumentFormat.CYCLONEDX,
};

/** Stores one format's document, bundle (and runtime SBOM) under the attempt's keys. */
async function storeDocument(blobs: BlobStore, job: JobRef, produced: ProducedDocument): Promise<VexDocumentRef> {
  const keys = vexDocumentKeys(job.jobId, job.attempt, produced.format);
  const json = { contentType: "application/json" };
  const [document, bundle, sbom] = await Promise.all([
    blobs.put(keys.document, Buffer.from(produced.documentJson), json),
    blobs.put(keys.bundle, Buffer.from(produced.bundleJson), json),
    keys.runtimeSbom !== undefined && produced.runtimeSbomJson !== undefined
      ? blobs.put(keys.runtimeSbom, Buffer.from(produced.runtimeSbomJson), json)
      : Promise.resolve(undefined),
  ]);
  return create(VexDocumentRefSchema, {
    format: WIRE_FORMAT[produced.format],
    documentId: produced.documentId,
    document: blobRef(document),
    bundle: blobRef(bundle),
    ...(sbom !== undefined ? { runtimeSbom: blobRef(sbom) } : {}),
  });
}

/** The analysis.failed reason of a permanent failure, or undefined for one worth redelivering. */
function failureReason(error: unknown, verdicts: readonly Verdict[]): string | undefined {
  if (error instanceof ProductIdentityError) return error.reason;
  if (error instanceof VexNotApplicableError) return "vex_not_applicable";
  if (error instanceof InvalidVexDocumentError) return verdicts.length === 0 ? "no_verdicts" : "invalid_vex_document";
  return undefined;
}

/** The verdicts blob cannot be used; a new attempt (a new blob) may succeed (retryable). */
export class VerdictsUnreadable extends StageFailure {
  constructor(reason: "input_missing" | "input_altered", message: string, options?: { cause?: unknown }) {
    super(reason, message, true, options);
    this.name = "VerdictsUnreadable";
  }
}

/**
 * The verdicts of a scored event: read from its verdicts blob with the sha256 checked (an event
 * from a publisher older than the blob-only events may still carry them inline).
 * @throws VerdictsUnreadable for a blob that is missing, altered, undecodable or of another job;
 * anything else (store unreachable) as is, to be redelivered.
 */
export async function loadVerdicts(blobs: BlobStore, scored: ReachabilityScored, job: JobRef): Promise<Verdict[]> {
  const ref = scored.verdictsBlob;
  if (ref === undefined || ref.key === "") return scored.verdicts;
  let bytes: Buffer;
  try {
    bytes = await blobs.getVerified(ref);
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "BlobNotFoundError") throw new VerdictsUnreadable("input_missing", `the verdicts ${ref.key} are not in object storage`, { cause: error });
    if (name === "BlobDigestMismatchError")
      throw new VerdictsUnreadable("input_altered", `the verdicts ${ref.key} do not match their sha256 ${ref.sha256}`, { cause: error });
    throw error;
  }
  let stored: ReachabilityScored;
  try {
    stored = fromJsonString(ReachabilityScoredSchema, bytes.toString("utf8"), { ignoreUnknownFields: true });
  } catch (error) {
    throw new VerdictsUnreadable("input_altered", `the verdicts ${ref.key} are not a ReachabilityScored JSON document: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (stored.job !== undefined && (stored.job.jobId !== job.jobId || stored.job.attempt !== job.attempt)) {
    throw new VerdictsUnreadable("input_altered", `the verdicts ${ref.key} belong to job ${stored.job.jobId} attempt ${stored.job.attempt}`);
  }
  if (scored.verdictCount !== 0 && stored.verdicts.length !== scored.verdictCount) {
    throw new VerdictsUnreadable(
      "input_altered",
      `the verdicts ${ref.key} hold ${stored.verdicts.length} verdicts, the event announced ${scored.verdictCount}`,
    );
  }
  return stored.verdicts;
}
