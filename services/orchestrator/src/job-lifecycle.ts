/**
 * The job lifecycle: dispatching an attempt, advancing a job from the events the stages
 * publish, re-driving an attempt that failed in a retryable way or stopped making progress,
 * and failing a job for good (naming the lost stage) once its attempts are used up.
 *
 * Postgres is the source of truth and NATS only signals: every decision is taken inside the
 * job row's lock, and every publish happens after the commit. A publish that fails after the
 * commit is repaired by the reconciler (the phase deadline passes and the job is re-driven).
 */
import { create } from "@bufbuild/protobuf";
import {
  AnalysisCancelledSchema,
  AnalysisRequestedSchema,
  JobRefSchema,
  VexDocumentFormat,
  type JobRef,
  type VexDocumentRef,
  type VexSigned,
} from "@vexxy/proto";
import { Subjects, eventMsgId, type EventBus, type EventPayload, type InboundEventOf, type Subject } from "@vexxy/events";
import { recordJobFinished, recordJobSubmitted, recordStageFailure, type Logger } from "@vexxy/platform";
import type { IAnalysisJob, StoredBlobRef, StoredVexDocument } from "./store/entities.js";
import type { JobStore } from "./store/job-store.js";
import { DISPATCHED_STEP, STAGE_AWAITED_IN_PHASE, STEP_BY_SUBJECT, advances, isFinal } from "./job-phases.js";
import { toStoredProfile, toStoredResults } from "./verdict-mapping.js";
import type { JobWatchHub } from "./job-watch-hub.js";

export interface LifecycleSettings {
  /** Attempts a job gets before it fails for good. */
  readonly maxAttempts: number;
  /** From dispatch to sandbox.started (pulling and unpacking the image included). */
  readonly dispatchDeadlineSeconds: number;
  /** Added to the job's test timeout for the run itself. */
  readonly runGraceSeconds: number;
  /** For each analysis stage (profile, reachability, VEX). */
  readonly stageDeadlineSeconds: number;
  /** Re-publications of an unanswered request before a new attempt is started. */
  readonly maxRedispatches: number;
}

/** The events the orchestrator follows: each stage's result and failures. */
export const ORCHESTRATOR_SUBJECTS = [
  Subjects.sandboxStarted,
  Subjects.sandboxCompleted,
  Subjects.sandboxFailed,
  Subjects.profileReady,
  Subjects.reachabilityScored,
  Subjects.vexSigned,
  Subjects.analysisFailed,
] as const;
export type OrchestratorSubject = (typeof ORCHESTRATOR_SUBJECTS)[number];

/** sandbox.failed has no stage field; analysis.failed names the stage. */
type FailurePayload = EventPayload<typeof Subjects.sandboxFailed> | EventPayload<typeof Subjects.analysisFailed>;

function jobRef(job: IAnalysisJob): JobRef {
  return create(JobRefSchema, {
    jobId: job.id,
    attempt: job.attempt,
    organizationId: job.organizationId,
    imageRef: job.imageRef,
    imageDigest: job.imageDigest,
    imageName: job.config.imageName ?? "",
    tagIdentifiers: job.config.tagIdentifiers === true,
    vexFormats: (job.config.vexFormats ?? ["openvex"]).map((f) => (f === "cyclonedx" ? VexDocumentFormat.CYCLONEDX : VexDocumentFormat.OPENVEX)),
    scan: { key: job.scan.key, sha256: job.scan.sha256, size: BigInt(job.scan.size) },
    ...(job.sbom != null ? { sbom: { key: job.sbom.key, sha256: job.sbom.sha256, size: BigInt(job.sbom.size) } } : {}),
  });
}

function blobOf(ref: { key: string; sha256: string; size: bigint } | undefined): StoredBlobRef | null {
  return ref === undefined ? null : { key: ref.key, sha256: ref.sha256, size: Number(ref.size) };
}

function secondsSince(date: Date): number {
  return (Date.now() - date.getTime()) / 1000;
}

/** vex.signed's documents as stored; null when the event lists none (a publisher before formats existed). */
function storedVexDocuments(documents: readonly VexDocumentRef[]): StoredVexDocument[] | null {
  if (documents.length === 0) return null;
  return documents.flatMap((d): StoredVexDocument[] => {
    const document = blobOf(d.document);
    const bundle = blobOf(d.bundle);
    const runtimeSbom = blobOf(d.runtimeSbom);
    if (document === null || bundle === null) return [];
    return [
      {
        format: d.format === VexDocumentFormat.CYCLONEDX ? "cyclonedx" : "openvex",
        documentId: d.documentId,
        document,
        bundle,
        ...(runtimeSbom !== null ? { runtimeSbom } : {}),
      },
    ];
  });
}

function secondsFromNow(seconds: number): Date {
  return new Date(Date.now() + seconds * 1000);
}

export class JobLifecycle {
  constructor(
    private readonly store: JobStore,
    private readonly bus: EventBus,
    private readonly hub: JobWatchHub,
    private readonly settings: LifecycleSettings,
    private readonly logger: Logger,
  ) {}

  /** Publishes the request for the job's current attempt and moves it to setting_up_sandbox. */
  async dispatch(jobId: string): Promise<void> {
    const job = await this.store.mutate(jobId, (j) => {
      if (isFinal(j.status as never)) return null;
      j.status = DISPATCHED_STEP.status;
      j.currentPhase = DISPATCHED_STEP.phase;
      j.progressPercent = DISPATCHED_STEP.progress;
      j.phaseDeadlineAt = secondsFromNow(this.settings.dispatchDeadlineSeconds);
      return { kind: "dispatched", detail: { attempt: j.attempt } };
    });
    if (job === undefined || isFinal(job.status as never)) return;
    recordJobSubmitted();
    this.hub.notify(jobId);
    await this.publishRequest(job);
  }

  private async publishRequest(job: IAnalysisJob): Promise<void> {
    const payload = create(AnalysisRequestedSchema, {
      job: jobRef(job),
      config: {
        testScript: job.config.testScript,
        testTimeoutSeconds: job.config.testTimeoutSeconds,
        enableFuzzing: job.config.enableFuzzing,
        enableProfiling: job.config.enableProfiling,
        ports: [...job.config.ports],
        environment: { ...job.config.environment },
      },
    });
    await this.bus.publish(Subjects.analysisRequested, payload, eventMsgId(Subjects.analysisRequested, job.id, job.attempt));
  }

  /** Cancels a job that has not ended; returns the job, or undefined when unknown. */
  async cancel(jobId: string, reason: string): Promise<IAnalysisJob | undefined> {
    let cancelled = false;
    const job = await this.store.mutate(jobId, (j) => {
      if (isFinal(j.status as never)) return null;
      j.status = "CANCELLED";
      j.currentPhase = "cancelled";
      j.completedAt = new Date();
      j.phaseDeadlineAt = null;
      j.errorMessage = reason === "" ? "cancelled by the caller" : `cancelled: ${reason}`;
      cancelled = true;
      // Cancelled before its sandbox started: nothing ran, so the quota unit is given back.
      return { kind: "cancelled", detail: { reason }, refundQuota: j.startedAt === null };
    });
    if (job !== undefined && cancelled) {
      recordJobFinished("CANCELLED", secondsSince(job.createdAt));
      this.hub.notify(jobId);
      await this.bus.publish(
        Subjects.analysisCancelled,
        create(AnalysisCancelledSchema, { job: jobRef(job), reason }),
        `${Subjects.analysisCancelled}:${job.id}`,
      );
    }
    return job;
  }

  /** Applies one event from a stage to its job. Stale attempts and final jobs are ignored. */
  async apply(event: InboundEventOf<OrchestratorSubject>): Promise<void> {
    const ref = event.payload.job;
    if (ref === undefined || ref.jobId === "") {
      this.logger.warn("event without a job reference ignored", { subject: event.subject, msgId: event.msgId });
      return;
    }
    if (event.subject === Subjects.sandboxFailed || event.subject === Subjects.analysisFailed) {
      await this.fail(ref, event.subject, event.payload);
      return;
    }
    const step = STEP_BY_SUBJECT[event.subject];
    if (step === undefined) return;
    let completedNow = false;
    const job = await this.store.mutate(ref.jobId, (j) => {
      if (isFinal(j.status as never) || j.attempt !== ref.attempt) return null;
      if (!advances(j.progressPercent, step)) return null;
      j.status = step.status;
      j.currentPhase = step.phase;
      j.progressPercent = step.progress;
      if (event.subject === Subjects.vexSigned) this.recordStageOutput(j, event.payload);
      j.phaseDeadlineAt = step.status === "COMPLETE" ? null : this.deadlineAfter(j, event.subject);
      if (event.subject === Subjects.sandboxStarted && j.startedAt === null) j.startedAt = new Date();
      if (step.status === "COMPLETE") {
        j.completedAt = new Date();
        completedNow = true;
      }
      return { kind: event.subject, detail: { msgId: event.msgId } };
    });
    if (job === undefined) {
      this.logger.warn("event for an unknown job ignored", { subject: event.subject, jobId: ref.jobId });
      return;
    }
    if (completedNow) recordJobFinished("COMPLETE", secondsSince(job.createdAt));
    this.hub.notify(job.id);
    if (event.subject === Subjects.vexSigned && job.status === "COMPLETE" && job.attempt === ref.attempt) {
      await this.recordEvidence(job, event.payload);
    }
  }

  private deadlineAfter(job: IAnalysisJob, subject: Subject): Date {
    if (subject === Subjects.sandboxStarted) {
      return secondsFromNow(job.config.testTimeoutSeconds + this.settings.runGraceSeconds);
    }
    return secondsFromNow(this.settings.stageDeadlineSeconds);
  }

  private recordStageOutput(job: IAnalysisJob, signed: VexSigned): void {
    job.generatedVexId = signed.documentId;
    job.vexDocument = blobOf(signed.document);
    job.vexBundle = blobOf(signed.bundle);
    job.vexPublicKey = blobOf(signed.publicKey);
    job.vexDocuments = storedVexDocuments(signed.documents);
    const verdicts = blobOf(signed.verdictsBlob);
    if (verdicts !== null && verdicts.key !== "") {
      // The results are read from the blob when asked for; the row keeps its key and digest.
      job.reachabilityVerdicts = { ...verdicts, count: signed.verdictCount };
      job.reachabilityResults = null;
    } else {
      // A vex.signed from a publisher older than blob-only events carries its verdicts inline.
      job.reachabilityVerdicts = null;
      job.reachabilityResults = toStoredResults(signed.verdicts) as unknown as Record<string, unknown>[];
    }
    job.executionProfile = toStoredProfile(signed.profile) as unknown as Record<string, unknown>;
  }

  private async recordEvidence(job: IAnalysisJob, signed: VexSigned): Promise<void> {
    const items: [string, StoredBlobRef | null][] = [
      ["openvex_document", blobOf(signed.document)],
      ["vex_signed_bundle", blobOf(signed.bundle)],
      ["execution_profile", blobOf(signed.profile?.profile)],
      ["reachability_verdicts", blobOf(signed.verdictsBlob)],
    ];
    for (const [type, blob] of items) {
      if (blob !== null) await this.store.addEvidence(job.id, job.attempt, type, blob);
    }
  }

  private async fail(ref: JobRef, subject: Subject, failure: FailurePayload): Promise<void> {
    const named = "stage" in failure ? failure.stage : "";
    const stage = named !== "" ? named : subject === Subjects.sandboxFailed ? "sandbox" : "unknown";
    await this.retryOrFail(ref.jobId, ref.attempt, stage, failure.reason, failure.message, failure.retryable);
  }

  /**
   * Starts a new attempt when the failure is retryable and attempts remain, else fails the job
   * with a message naming the stage. Does nothing for a stale attempt or a final job.
   */
  async retryOrFail(jobId: string, attempt: number, stage: string, reason: string, message: string, retryable: boolean): Promise<void> {
    let redriven = false;
    let failedNow = false;
    const job = await this.store.mutate(jobId, (j) => {
      if (isFinal(j.status as never) || j.attempt !== attempt) return null;
      if (retryable && j.attempt < this.settings.maxAttempts) {
        j.attempt += 1;
        j.retryCount += 1;
        j.redispatchCount = 0;
        j.status = DISPATCHED_STEP.status;
        j.currentPhase = DISPATCHED_STEP.phase;
        j.progressPercent = DISPATCHED_STEP.progress;
        j.phaseDeadlineAt = secondsFromNow(this.settings.dispatchDeadlineSeconds);
        redriven = true;
        return { kind: "redriven", detail: { failedAttempt: attempt, stage, reason, message } };
      }
      j.status = "FAILED";
      j.currentPhase = "failed";
      j.completedAt = new Date();
      failedNow = true;
      j.phaseDeadlineAt = null;
      j.errorMessage = `${stage} stage failed (${reason})${message !== "" ? `: ${message}` : ""}${retryable ? ` after ${j.attempt} attempt(s)` : ""}`;
      // Failed before its sandbox started (image refused, never dispatched...): the quota unit is given back.
      return { kind: "failed", detail: { stage, reason, message, attempt }, refundQuota: j.startedAt === null };
    });
    if (job === undefined) return;
    recordStageFailure(stage, reason);
    if (failedNow) recordJobFinished("FAILED", secondsSince(job.createdAt));
    this.hub.notify(jobId);
    if (redriven) {
      this.logger.warn("re-driving job with a new attempt", { jobId, failedAttempt: attempt, stage, reason });
      await this.publishRequest(job);
    }
  }

  /**
   * One reconciler pass: every job past its phase deadline is re-published (the request may
   * have been lost), re-driven as a new attempt, or failed naming the stage that never answered.
   */
  async reconcile(): Promise<number> {
    const overdue = await this.store.findOverdue(new Date());
    for (const job of overdue) {
      const stage = STAGE_AWAITED_IN_PHASE[job.currentPhase] ?? "unknown";
      if (job.currentPhase === DISPATCHED_STEP.phase && job.redispatchCount < this.settings.maxRedispatches) {
        const again = await this.store.mutate(job.id, (j) => {
          if (j.attempt !== job.attempt || j.currentPhase !== DISPATCHED_STEP.phase || isFinal(j.status as never)) return null;
          j.redispatchCount += 1;
          j.phaseDeadlineAt = secondsFromNow(this.settings.dispatchDeadlineSeconds);
          return { kind: "redispatched", detail: { attempt: j.attempt, count: j.redispatchCount } };
        });
        if (again !== undefined && again.attempt === job.attempt) await this.publishRequest(again);
        continue;
      }
      await this.retryOrFail(
        job.id,
        job.attempt,
        stage,
        "deadline_exceeded",
        `no answer from the ${stage} stage within the ${job.currentPhase} deadline`,
        true,
      );
    }
    return overdue.length;
  }
}
