/**
 * Job persistence. Postgres is the source of truth: every change of a job happens in one
 * transaction that locks the row, writes the change and appends to the job event log, so a
 * crash never leaves a job changed without its log line (or the reverse).
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { LockMode } from "@mikro-orm/core";
import { randomUUID } from "node:crypto";
import { QuotaStore } from "./quota-store.js";
import { AnalysisJob, EvidenceRecord, JobEvent, type IAnalysisJob, type JobStatus, type StoredBlobRef, type StoredConfig } from "./entities.js";
import { enqueueWebhook } from "./webhook-store.js";

const FINAL_STATUSES: ReadonlySet<string> = new Set(["COMPLETE", "FAILED", "CANCELLED"]);

export interface NewJob {
  readonly organizationId: string;
  readonly imageRef: string;
  readonly imageDigest: string;
  readonly sbomId: string | null;
  readonly config: StoredConfig;
  readonly scan: StoredBlobRef;
  readonly sbom: StoredBlobRef | null;
  readonly callbackUrl: string | null;
  readonly idempotencyKey: string | null;
  readonly status: JobStatus;
  readonly phase: string;
  readonly progress: number;
  /**
   * Set when the job is final the moment it is created (a scan with no findings): the job is
   * stored COMPLETE with no verdicts, and this line follows "submitted" in the event log.
   */
  readonly completedAtSubmit?: JobChange;
  /** When one unit of the monthly quota was taken for the job (null: not billed, e.g. a scan with no findings). */
  readonly billedAt?: Date | null;
  /** sha256 per request field, compared on an idempotent replay. */
  readonly requestFingerprint?: Record<string, string> | null;
}

export interface JobFilter {
  readonly organizationId?: string;
  readonly status?: JobStatus;
  readonly imageRef?: string;
  readonly imageDigest?: string;
  /** Created at or after (inclusive). */
  readonly createdAfter?: Date;
  /** Created before (exclusive). */
  readonly createdBefore?: Date;
}

/** The last row of a page: the next page starts strictly after it in (created_at, id) descending order. */
export interface ListCursor {
  readonly createdAt: Date;
  readonly id: string;
}

/** What a mutation may change; `log` is the event-log line written with it. */
export interface JobChange {
  readonly kind: string;
  readonly detail?: Record<string, unknown>;
  /**
   * Give the job's quota unit back in the same transaction (a job that ends before its sandbox
   * started). Does nothing for a job that was not billed or was refunded already.
   */
  readonly refundQuota?: boolean;
}

/** The columns of a job its public view (GetAnalysis) shows: no configuration, blobs or results. */
export type JobView = Pick<
  IAnalysisJob,
  | "id"
  | "organizationId"
  | "status"
  | "progressPercent"
  | "currentPhase"
  | "imageRef"
  | "imageDigest"
  | "createdAt"
  | "startedAt"
  | "completedAt"
  | "errorMessage"
  | "attempt"
  | "retryCount"
>;

// One statement, no entity: GetAnalysis is the hottest read of the public API, and hydrating a
// full AnalysisJob (every JSON column, the identity map of a fresh fork) cost more than the query.
const JOB_VIEW_SQL =
  "select id, organization_id, status, progress_percent, current_phase, image_ref, image_digest, created_at, started_at, completed_at, error_message, attempt, retry_count from analysis_job where id = ?";

interface JobViewRow {
  readonly id: string;
  readonly organization_id: string;
  readonly status: string;
  readonly progress_percent: number;
  readonly current_phase: string;
  readonly image_ref: string;
  readonly image_digest: string;
  // timestamptz as Postgres prints it: MikroORM's driver turns pg's date parsing off.
  readonly created_at: string;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly error_message: string | null;
  readonly attempt: number;
  readonly retry_count: number;
}

export class JobStore {
  constructor(private readonly root: EntityManager) {}

  /**
   * Creates a job with its first log line (two when `completedAtSubmit` is set), in one
   * transaction; the id is a fresh UUID unless given.
   */
  async create(job: NewJob, id: string = randomUUID()): Promise<IAnalysisJob> {
    return await this.root.fork().transactional(async (em) => {
      const now = new Date();
      const entity = em.create(AnalysisJob, {
        id,
        organizationId: job.organizationId,
        imageRef: job.imageRef,
        imageDigest: job.imageDigest,
        sbomId: job.sbomId,
        status: job.status,
        priority: 0,
        config: job.config,
        progressPercent: job.progress,
        currentPhase: job.phase,
        attempt: 1,
        retryCount: 0,
        phaseDeadlineAt: null,
        redispatchCount: 0,
        scan: job.scan,
        sbom: job.sbom,
        executionProfile: null,
        reachabilityResults: job.completedAtSubmit !== undefined ? [] : null,
        reachabilityVerdicts: null,
        generatedVexId: null,
        vexDocument: null,
        vexBundle: null,
        vexPublicKey: null,
        vexDocuments: null,
        idempotencyKey: job.idempotencyKey,
        callbackUrl: job.callbackUrl,
        createdAt: now,
        updatedAt: now,
        startedAt: null,
        completedAt: job.completedAtSubmit !== undefined ? now : null,
        errorMessage: null,
        billedAt: job.billedAt ?? null,
        costCredits: job.billedAt != null ? 1 : 0,
        requestFingerprint: job.requestFingerprint ?? null,
      });
      em.create(JobEvent, {
        jobId: id,
        attempt: 1,
        kind: "submitted",
        status: job.status,
        phase: job.phase,
        progressPercent: job.progress,
        detail: { imageRef: job.imageRef, imageDigest: job.imageDigest },
        createdAt: now,
      });
      if (job.completedAtSubmit !== undefined) {
        em.create(JobEvent, {
          jobId: id,
          attempt: 1,
          kind: job.completedAtSubmit.kind,
          status: job.status,
          phase: job.phase,
          progressPercent: job.progress,
          detail: job.completedAtSubmit.detail ?? {},
          createdAt: now,
        });
      }
      if (job.completedAtSubmit !== undefined) enqueueWebhook(em, entity, now);
      await em.flush();
      return entity;
    });
  }

  /** The job, or undefined. Fresh from the database (no identity-map caching across calls). */
  async find(id: string): Promise<IAnalysisJob | undefined> {
    const job = await this.root.fork().findOne(AnalysisJob, { id });
    return job ?? undefined;
  }

  /**
   * The public view of a job, or undefined: one plain SQL read (no entity, no fork), fresh from
   * the database like find().
   */
  async findView(id: string): Promise<JobView | undefined> {
    const row = (await this.root.getConnection().execute(JOB_VIEW_SQL, [id], "get")) as JobViewRow | undefined;
    if (row == null) return undefined;
    // The platform's parser, so the dates are exactly the ones find() hydrates.
    const platform = this.root.getPlatform();
    const date = (value: string): Date => {
      const parsed: unknown = platform.parseDate(value);
      if (!(parsed instanceof Date)) throw new Error(`analysis_job ${row.id}: unreadable timestamp ${JSON.stringify(value)}`);
      return parsed;
    };
    return {
      id: row.id,
      organizationId: row.organization_id,
      status: row.status,
      progressPercent: row.progress_percent,
      currentPhase: row.current_phase,
      imageRef: row.image_ref,
      imageDigest: row.image_digest,
      createdAt: date(row.created_at),
      startedAt: row.started_at === null ? null : date(row.started_at),
      completedAt: row.completed_at === null ? null : date(row.completed_at),
      errorMessage: row.error_message,
      attempt: row.attempt,
      retryCount: row.retry_count,
    };
  }

  /** The job an organization submitted under an idempotency key, or undefined. */
  async findByIdempotencyKey(organizationId: string, key: string): Promise<IAnalysisJob | undefined> {
    const job = await this.root.fork().findOne(AnalysisJob, { organizationId, idempotencyKey: key });
    return job ?? undefined;
  }

  /** An organization's jobs billed in [from, to), oldest first (GetUsage). */
  async billedJobs(organizationId: string, from: Date, to: Date, limit = 1000): Promise<IAnalysisJob[]> {
    return await this.root.fork().find(AnalysisJob, { organizationId, billedAt: { $gte: from, $lt: to } }, { orderBy: { billedAt: "asc", id: "asc" }, limit });
  }

  /**
   * Jobs newest first, (created_at, id) descending, after the cursor when given. Keyset paging:
   * jobs inserted meanwhile sort before the cursor, so a page never repeats or skips a row.
   */
  async list(filter: JobFilter, after: ListCursor | null, limit: number): Promise<IAnalysisJob[]> {
    const where: Record<string, unknown>[] = [];
    if (filter.organizationId !== undefined) where.push({ organizationId: filter.organizationId });
    if (filter.status !== undefined) where.push({ status: filter.status });
    if (filter.imageRef !== undefined) where.push({ imageRef: filter.imageRef });
    if (filter.imageDigest !== undefined) where.push({ imageDigest: filter.imageDigest });
    if (filter.createdAfter !== undefined) where.push({ createdAt: { $gte: filter.createdAfter } });
    if (filter.createdBefore !== undefined) where.push({ createdAt: { $lt: filter.createdBefore } });
    if (after !== null) {
      where.push({ $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }] });
    }
    return await this.root.fork().find(AnalysisJob, where.length === 0 ? {} : { $and: where }, { orderBy: { createdAt: "desc", id: "desc" }, limit });
  }

  /** Jobs not final whose phase deadline has passed. */
  async findOverdue(now: Date, limit = 50): Promise<IAnalysisJob[]> {
    return await this.root
      .fork()
      .find(
        AnalysisJob,
        { status: { $in: ["QUEUED", "RUNNING", "ANALYZING"] }, phaseDeadlineAt: { $lte: now } },
        { orderBy: { phaseDeadlineAt: "asc" }, limit },
      );
  }

  /**
   * Locks the job row, lets `mutate` change it (return null to change nothing), then writes the
   * change and its log line in the same transaction. Returns the job after the change.
   */
  async mutate(id: string, mutate: (job: IAnalysisJob) => JobChange | null): Promise<IAnalysisJob | undefined> {
    return await this.root.fork().transactional(async (em) => {
      const job = await em.findOne(AnalysisJob, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (job === null) return undefined;
      const wasFinal = FINAL_STATUSES.has(job.status);
      const change = mutate(job);
      if (change === null) return job;
      job.updatedAt = new Date();
      if (change.refundQuota === true && job.billedAt != null) {
        await new QuotaStore(this.root).giveBack(job.organizationId, job.billedAt, em);
        job.billedAt = null;
        job.costCredits = 0;
      }
      // The completion webhook is queued in the transaction that ends the job (outbox).
      if (!wasFinal && FINAL_STATUSES.has(job.status)) enqueueWebhook(em, job, job.updatedAt);
      em.create(JobEvent, {
        jobId: id,
        attempt: job.attempt,
        kind: change.kind,
        status: job.status,
        phase: job.currentPhase,
        progressPercent: job.progressPercent,
        detail: change.detail ?? {},
        createdAt: job.updatedAt,
      });
      await em.flush();
      return job;
    });
  }

  /** Records an evidence object (a blob a stage wrote) for a job. */
  async addEvidence(jobId: string, attempt: number, evidenceType: string, blob: StoredBlobRef, data: Record<string, unknown> = {}): Promise<void> {
    const em = this.root.fork();
    em.create(EvidenceRecord, {
      jobId,
      attempt,
      evidenceType,
      storagePath: blob.key,
      sha256: blob.sha256,
      fileSize: blob.size,
      evidenceData: data,
      createdAt: new Date(),
    });
    await em.flush();
  }

  /** The job's event log, oldest first. */
  async events(
    jobId: string,
  ): Promise<{ kind: string; attempt: number; status: string; phase: string; progressPercent: number; createdAt: Date; detail: Record<string, unknown> }[]> {
    return await this.root.fork().find(JobEvent, { jobId }, { orderBy: { id: "asc" } });
  }

  /** The job's log lines after `afterId` (0: all), oldest first, with their ids. */
  async eventsAfter(
    jobId: string,
    afterId: number,
  ): Promise<{ id: number; kind: string; attempt: number; status: string; phase: string; progressPercent: number }[]> {
    return await this.root.fork().find(JobEvent, { jobId, id: { $gt: afterId } }, { orderBy: { id: "asc" } });
  }

  /** The id of the job's latest log line, or 0. */
  async lastEventId(jobId: string): Promise<number> {
    const last = await this.root.fork().findOne(JobEvent, { jobId }, { orderBy: { id: "desc" } });
    return last?.id ?? 0;
  }

  /** Evidence records of a job. */
  async evidence(jobId: string): Promise<{ evidenceType: string; storagePath: string; sha256: string; fileSize: number; attempt: number }[]> {
    return await this.root.fork().find(EvidenceRecord, { jobId }, { orderBy: { id: "asc" } });
  }
}
