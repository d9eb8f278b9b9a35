/**
 * Consumes vexxy.reachability.scored (durable "vex").
 *
 * Claims (job, "vex", attempt) in the ledger, writes and signs the VEX, stores
 * jobs/<job>/attempts/<n>/{openvex.json, openvex.sigstore.json, vex-signing.pub.pem}, records
 * the vex.signed event in the ledger and publishes it. Failure to produce a valid document
 * publishes vexxy.analysis.failed {stage "vex", retryable false}; an unreachable store or
 * database throws and the event is redelivered with backoff.
 * Redelivery: a done row re-publishes the recorded vex.signed (same Nats-Msg-Id) and writes
 * nothing, so a job attempt never gets a second document; a "started" row (an earlier delivery
 * died mid-way) does the work again under the same keys.
 */
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { Durables, Subjects, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import type { BlobStore } from "@vexxy/blobstore";
import type { StageLedger } from "@vexxy/ledger";
import type { Logger } from "@vexxy/platform";
import { AnalysisFailedSchema, VexSignedSchema, type ReachabilityScored } from "@vexxy/proto";
import { produceVex, type VexSettings } from "../produce-vex.js";
import type { SigningKey } from "../signing/signing-key.js";
import { InvalidVexDocumentError } from "../errors.js";
import { VEX_STAGE, vexKeys } from "../store/vex-keys.js";

export interface VexStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly key: SigningKey;
  readonly settings: VexSettings;
  readonly logger: Logger;
}

/** Starts the durable consumer. */
export async function consumeScoredEvents(deps: VexStageDeps, ackWaitMs: number): Promise<Subscription> {
  return await deps.bus.consume({ durable: Durables.vex, subjects: [Subjects.reachabilityScored], ackWaitMs }, (event) => handleScored(deps, event));
}

function blobRef(info: { key: string; sha256: string; size: number }) {
  return { key: info.key, sha256: info.sha256, size: BigInt(info.size) };
}

/** Handles one delivery (exported for tests). */
export async function handleScored(deps: VexStageDeps, event: InboundEvent): Promise<void> {
  const scored = event.payload as ReachabilityScored;
  const job = scored.job;
  if (job === undefined || job.jobId === "" || job.attempt === 0) {
    deps.logger.warn("reachability.scored without job id or attempt dropped");
    return;
  }
  const msgId = eventMsgId(Subjects.vexSigned, job.jobId, job.attempt);
  const { claimed, record } = await deps.ledger.claim(job.jobId, VEX_STAGE, job.attempt);
  if (!claimed && record.state === "done" && typeof record.outcome["signed"] === "string") {
    await deps.bus.publish(Subjects.vexSigned, fromJsonString(VexSignedSchema, record.outcome["signed"]), msgId);
    deps.logger.info("redelivered reachability.scored: re-published the recorded VEX", { job: job.jobId, attempt: job.attempt });
    return;
  }
  if (!claimed && record.state === "failed") return;
  let produced;
  try {
    produced = produceVex(job, scored.verdicts, deps.key, deps.settings);
  } catch (err) {
    if (!(err instanceof InvalidVexDocumentError)) throw err;
    await deps.ledger.update(job.jobId, VEX_STAGE, job.attempt, "failed", { reason: "invalid_document", message: err.message });
    await deps.bus.publish(
      Subjects.analysisFailed,
      create(AnalysisFailedSchema, { job, stage: "vex", reason: "invalid_document", message: err.message, retryable: false }),
      `${eventMsgId(Subjects.analysisFailed, job.jobId, job.attempt)}:vex`,
    );
    return;
  }
  const keys = vexKeys(job.jobId, job.attempt);
  const [document, bundle, publicKey] = await Promise.all([
    deps.blobs.put(keys.document, Buffer.from(produced.documentJson), { contentType: "application/json" }),
    deps.blobs.put(keys.bundle, Buffer.from(produced.bundleJson), { contentType: "application/json" }),
    deps.blobs.put(keys.publicKey, Buffer.from(deps.key.publicKeyPem), { contentType: "application/x-pem-file" }),
  ]);
  const signed = create(VexSignedSchema, {
    job,
    documentId: produced.documentId,
    document: blobRef(document),
    bundle: blobRef(bundle),
    publicKey: blobRef(publicKey),
    verdicts: scored.verdicts,
    ...(scored.profile !== undefined ? { profile: scored.profile } : {}),
  });
  await deps.ledger.update(job.jobId, VEX_STAGE, job.attempt, "done", { documentId: produced.documentId, signed: toJsonString(VexSignedSchema, signed) });
  await deps.bus.publish(Subjects.vexSigned, signed, msgId);
  deps.logger.info("VEX signed", { job: job.jobId, attempt: job.attempt, documentId: produced.documentId, statements: scored.verdicts.length });
}
