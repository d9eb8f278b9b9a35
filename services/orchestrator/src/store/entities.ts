/**
 * Orchestrator tables (schema "orchestrator"): the analysis job (the seeds' PremiumAnalysisJob
 * fields plus the keys of what each stage wrote), the append-only job event log, and evidence
 * records (type, object key, size, sha256). Defined with defineEntity: no decorators.
 */
import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

/** Job lifecycle states, stored as text. */
export const JOB_STATUSES = ["QUEUED", "RUNNING", "ANALYZING", "COMPLETE", "FAILED", "CANCELLED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Exercise configuration as stored (defaults already applied). */
export interface StoredConfig {
  readonly testScript: string;
  readonly testTimeoutSeconds: number;
  readonly enableFuzzing: boolean;
  readonly enableProfiling: boolean;
  readonly ports: readonly number[];
  readonly environment: Readonly<Record<string, string>>;
  /** The image's repository as scanners name it ("REPOSITORY[:TAG]"); names the VEX product. Absent in rows from before it existed. */
  readonly imageName?: string;
  /** Also identify the VEX product by tag (opt-in; a tag is not pinned to the digest). */
  readonly tagIdentifiers?: boolean;
  /** The VEX formats to produce, each once; absent in rows from before it existed (OpenVEX). */
  readonly vexFormats?: readonly StoredVexFormat[];
}

/** A VEX format as stored. */
export type StoredVexFormat = "openvex" | "cyclonedx";

/** One format's signed VEX as stored (from vex.signed's documents). */
export interface StoredVexDocument {
  readonly format: StoredVexFormat;
  readonly documentId: string;
  readonly document: StoredBlobRef;
  readonly bundle: StoredBlobRef;
  readonly runtimeSbom?: StoredBlobRef;
}

/** Object-store reference as stored. */
export interface StoredBlobRef {
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
}

/** The reachability verdicts blob (ReachabilityScored as protobuf JSON) and how many verdicts it holds. */
export interface StoredVerdictsRef extends StoredBlobRef {
  readonly count: number;
}

export const AnalysisJob = defineEntity({
  name: "AnalysisJob",
  tableName: "analysis_job",
  properties: {
    id: p.uuid().primary(),
    organizationId: p.string().index(),
    imageRef: p.text(),
    imageDigest: p.string().index(),
    sbomId: p.string().nullable(),
    status: p.string().index(),
    priority: p.integer().default(0),
    config: p.json<StoredConfig>(),
    progressPercent: p.integer().default(0),
    currentPhase: p.string(),
    attempt: p.integer().default(1),
    retryCount: p.integer().default(0),
    /** When the current phase must have moved on; the reconciler re-drives past it. */
    phaseDeadlineAt: p.datetime().nullable().index(),
    /** How often the current attempt's request was re-published without progress. */
    redispatchCount: p.integer().default(0),
    scan: p.json<StoredBlobRef>(),
    sbom: p.json<StoredBlobRef>().nullable(),
    executionProfile: p.json<Record<string, unknown>>().nullable(),
    /** Result rows inline: jobs completed before the verdicts blob was kept (and [] for a scan with no findings). */
    reachabilityResults: p.json<Record<string, unknown>[]>().nullable(),
    /** Where the verdicts are (results are read from it, its sha256 checked); null before a job is COMPLETE. */
    reachabilityVerdicts: p.json<StoredVerdictsRef>().nullable(),
    generatedVexId: p.string().nullable(),
    vexDocument: p.json<StoredBlobRef>().nullable(),
    vexBundle: p.json<StoredBlobRef>().nullable(),
    vexPublicKey: p.json<StoredBlobRef>().nullable(),
    /** Every format's signed VEX; null for jobs completed before formats existed (vex_document is their OpenVEX). */
    vexDocuments: p.json<StoredVexDocument[]>().nullable(),
    idempotencyKey: p.string().nullable(),
    callbackUrl: p.text().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    startedAt: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
    errorMessage: p.text().nullable(),
    billedAt: p.datetime().nullable(),
    costCredits: p.integer().default(1),
    /** sha256 of each field of the submitted request (see requestFingerprint): an idempotent replay must match it. */
    requestFingerprint: p.json<Record<string, string>>().nullable(),
  },
  uniques: [{ properties: ["organizationId", "idempotencyKey"], name: "analysis_job_org_idempotency_key_unique" }],
});
export type IAnalysisJob = InferEntity<typeof AnalysisJob>;

export const JobEvent = defineEntity({
  name: "JobEvent",
  tableName: "job_event",
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    jobId: p.uuid().index(),
    attempt: p.integer(),
    kind: p.string(),
    status: p.string(),
    phase: p.string(),
    progressPercent: p.integer(),
    detail: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});
export type IJobEvent = InferEntity<typeof JobEvent>;

export const EvidenceRecord = defineEntity({
  name: "EvidenceRecord",
  tableName: "analysis_evidence",
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    jobId: p.uuid().index(),
    attempt: p.integer(),
    evidenceType: p.string(),
    storagePath: p.text(),
    sha256: p.string(),
    fileSize: p.bigint("number"),
    evidenceData: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
  },
});
export type IEvidenceRecord = InferEntity<typeof EvidenceRecord>;

/** Webhook delivery states: pending (due at next_at), delivered, or given up (retry window passed). */
export const WEBHOOK_STATES = ["pending", "delivered", "gave_up"] as const;
export type WebhookState = (typeof WEBHOOK_STATES)[number];

/** One completion notification of a job (at most one per job), written with the job's final change. */
export const WebhookOutbox = defineEntity({
  name: "WebhookOutbox",
  tableName: "webhook_outbox",
  properties: {
    jobId: p.uuid().primary(),
    /** The Standard Webhooks `webhook-id`: the same on every attempt, so receivers can deduplicate. */
    messageId: p.string(),
    url: p.text(),
    state: p.string(),
    /** The JSON body, frozen at the first attempt so every retry sends (and signs) the same bytes. */
    body: p.text().nullable(),
    attempts: p.integer().default(0),
    createdAt: p.datetime(),
    nextAt: p.datetime(),
    deliveredAt: p.datetime().nullable(),
  },
});
export type IWebhookOutbox = InferEntity<typeof WebhookOutbox>;

/** One delivery attempt of a job's webhook: the receiver's status code or the error, and when the next one is due. */
export const WebhookDelivery = defineEntity({
  name: "WebhookDelivery",
  tableName: "webhook_deliveries",
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    jobId: p.uuid().index(),
    attempt: p.integer(),
    statusCode: p.integer().nullable(),
    error: p.text().nullable(),
    at: p.datetime(),
    nextAt: p.datetime().nullable(),
  },
});
export type IWebhookDelivery = InferEntity<typeof WebhookDelivery>;

/** Audited actions. */
export const AUDIT_ACTIONS = ["submit", "cancel", "results_read", "vex_download"] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who (organization and subject) did what to which job, and when. Append-only. */
export const AuditEntry = defineEntity({
  name: "AuditEntry",
  tableName: "audit_log",
  properties: {
    id: p.bigint("number").primary().autoincrement(),
    organizationId: p.string(),
    subject: p.string(),
    action: p.string(),
    jobId: p.uuid().nullable(),
    at: p.datetime(),
    detail: p.json<Record<string, unknown>>(),
  },
});
export type IAuditEntry = InferEntity<typeof AuditEntry>;

export const ORCHESTRATOR_ENTITIES = [AnalysisJob, JobEvent, EvidenceRecord, WebhookOutbox, WebhookDelivery, AuditEntry] as const;
