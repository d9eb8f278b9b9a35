/**
 * The public AnalysisService: submit, follow, read results, cancel and list analysis jobs.
 * Inputs are validated before anything is stored; the scan and SBOM go to object storage and
 * the job row keeps their keys and digests.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type AnalysisService,
  CancelAnalysisResponseSchema,
  GetAnalysisResponseSchema,
  GetAnalysisResultsResponseSchema,
  ListAnalysesResponseSchema,
  ReachabilityResultSchema,
  SubmitAnalysisResponseSchema,
  VexDocumentSchema,
  VexFormat,
  WatchAnalysisResponseSchema,
  type ReachabilityResult,
  type VexDocument,
} from "@vexxy/proto";
import type { BlobStore } from "@vexxy/blobstore";
import { FailedPreconditionError, InvalidFieldError, NotFoundError, type Logger } from "@vexxy/platform";
import { randomUUID } from "node:crypto";
import type { IAnalysisJob, StoredVexDocument } from "./store/entities.js";
import type { JobStore, JobView, ListCursor } from "./store/job-store.js";
import type { AuditLog } from "./store/audit-log.js";
import type { AuditAction } from "./store/entities.js";
import type { CallbackGuard } from "./webhooks/callback-guard.js";
import type { JobLifecycle } from "./job-lifecycle.js";
import type { JobWatchHub } from "./job-watch-hub.js";
import { NO_FINDINGS_STEP, QUEUED_STEP, isFinal } from "./job-phases.js";
import { validateSubmit } from "./submit-validation.js";
import { storedStatus, toAnalysis, apiStatus } from "./job-view.js";
import { toApiProfile, toApiResults } from "./verdict-mapping.js";
import { VerdictResults } from "./verdict-results.js";
import { UniqueConstraintViolationException } from "@mikro-orm/core";
import { callerOf, type Caller } from "@vexxy/auth";
import { requestFingerprint } from "./request-fingerprint.js";
import { replaySubmit, replayedResponse } from "./idempotent-submit.js";
import { requestOrganization, requireRuntimeAnalysis } from "./tenancy.js";
import type { QuotaPolicy } from "./quota-policy.js";
import { usageReport } from "./usage-report.js";
import { blobInfo, streamVex, vexTooLargeInline } from "./vex-download.js";

/** Largest page of GetAnalysisResults, in results. */
export const MAX_RESULTS_PAGE = 5000;
/** A page's results stop before this many encoded bytes (gRPC's default receive limit is 4 MiB). */
export const RESULTS_PAGE_BYTES = 3 * 1024 * 1024;

/** End (exclusive) of the page from offset: at most pageSize results and RESULTS_PAGE_BYTES, never empty. */
function pageEnd(results: readonly ReachabilityResult[], offset: number, pageSize: number): number {
  const last = Math.min(results.length, offset + pageSize);
  let bytes = 0;
  for (let i = offset; i < last; i++) {
    // Field tag, length prefix and the message.
    bytes += toBinary(ReachabilityResultSchema, results[i]!).length + 6;
    if (bytes > RESULTS_PAGE_BYTES && i > offset) return i;
  }
  return last;
}

export interface AnalysisHandlerDeps {
  readonly store: JobStore;
  readonly blobs: BlobStore;
  readonly lifecycle: JobLifecycle;
  readonly hub: JobWatchHub;
  readonly logger: Logger;
  /** image_ref transports accepted (the embedded default also takes local paths). */
  readonly imageTransports: readonly string[];
  readonly estimatedDurationMinutes: number;
  readonly watchPollMs: number;
  /** The monthly quota, taken at submit. */
  readonly quota: QuotaPolicy;
  /** Tiers whose organizations may submit (runtime analysis is an Ultimate feature). */
  readonly runtimeAnalysisTiers: readonly string[];
  /** Where submit, cancel, results reads and VEX downloads are recorded. */
  readonly audit?: AuditLog;
  /** Checks callback_url (SSRF); absent when webhooks are not configured (callback_url is then refused). */
  readonly callbackGuard?: CallbackGuard;
}

/** The caller as the audit log names it: the job's organization and the token's subject ("mesh" for internal callers). */
function auditActor(caller: Caller, organizationId: string): { organizationId: string; subject: string } {
  return { organizationId, subject: caller.subject === "" ? `${caller.kind}:unknown` : caller.subject };
}

const LIST_TOKEN = /^k1:(\d{1,15}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The ListAnalyses cursor: the (created_at, id) of the page's last row, base64url so callers treat it as opaque. */
function encodeListToken(job: IAnalysisJob): string {
  return Buffer.from(`k1:${job.createdAt.getTime()}:${job.id}`, "utf8").toString("base64url");
}

function watchFingerprint(status: string, phase: string, progress: number, attempt: number): string {
  return `${status}|${phase}|${progress}|${attempt}`;
}

/** A created_* bound as a Date; InvalidArgument naming the field when it is not a valid instant. */
function listBound(field: string, ts: Timestamp | undefined): Date | undefined {
  if (ts === undefined) return undefined;
  const date = timestampDate(ts);
  if (Number.isNaN(date.getTime()) || ts.nanos < 0 || ts.nanos > 999_999_999) throw new InvalidFieldError(field, `${field} is not a valid timestamp`);
  return date;
}

function decodeListToken(token: string): ListCursor | null {
  if (token === "") return null;
  const m = LIST_TOKEN.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (m === null) throw new InvalidFieldError("page_token", "page_token is not one this service issued");
  return { createdAt: new Date(Number(m[1])), id: m[2]! };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The job when it belongs to the organization; another organization's job is NotFound like a missing one. */
async function loadJob(store: JobStore, jobId: string, organizationId: string): Promise<IAnalysisJob> {
  if (!UUID.test(jobId)) throw new InvalidFieldError("job_id", `job_id must be a job's UUID (got "${jobId.slice(0, 60)}")`);
  const job = await store.find(jobId);
  if (job === undefined || job.organizationId !== organizationId) throw new NotFoundError(`job_id ${jobId}: no such analysis`);
  return job;
}

/** The public view of the job when it belongs to the organization (loadJob's rules, one plain SQL read). */
async function loadJobView(store: JobStore, jobId: string, organizationId: string): Promise<JobView> {
  if (!UUID.test(jobId)) throw new InvalidFieldError("job_id", `job_id must be a job's UUID (got "${jobId.slice(0, 60)}")`);
  const job = await store.findView(jobId);
  if (job === undefined || job.organizationId !== organizationId) throw new NotFoundError(`job_id ${jobId}: no such analysis`);
  return job;
}

function decodePageToken(token: string): number {
  if (token === "") return 0;
  const offset = Number.parseInt(Buffer.from(token, "base64url").toString("utf8").replace(/^o:/, ""), 10);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidFieldError("page_token", "page_token is not one this service issued");
  return offset;
}

function encodePageToken(offset: number): string {
  return Buffer.from(`o:${offset}`, "utf8").toString("base64url");
}

/** Builds the AnalysisService implementation. */
export function analysisHandlers(deps: AnalysisHandlerDeps): ServiceImpl<typeof AnalysisService> {
  const { store, blobs, lifecycle, hub, logger } = deps;
  const verdictResults = new VerdictResults(blobs);
  const audited = async (context: HandlerContext, action: AuditAction, job: IAnalysisJob, detail?: Record<string, unknown>): Promise<void> => {
    await deps.audit?.record({ ...auditActor(callerOf(context), job.organizationId), action, jobId: job.id, ...(detail !== undefined ? { detail } : {}) });
  };
  return {
    async submitAnalysis(req, context) {
      const caller = callerOf(context);
      requireRuntimeAnalysis(caller, deps.runtimeAnalysisTiers);
      const valid = validateSubmit(req, deps.imageTransports, requestOrganization(caller, "organization_id", req.organizationId));
      const fingerprint = requestFingerprint(valid);
      if (valid.callbackUrl !== null) {
        if (deps.callbackGuard === undefined) {
          throw new FailedPreconditionError("callback_url: completion webhooks are not configured on this server (WEBHOOK_SECRET is unset)");
        }
        // Refused now (InvalidArgument naming callback_url) rather than at the first delivery.
        await deps.callbackGuard.check(valid.callbackUrl);
      }
      if (valid.idempotencyKey !== null) {
        const existing = await replaySubmit(store, valid.organizationId, valid.idempotencyKey, fingerprint);
        if (existing !== undefined) {
          return create(SubmitAnalysisResponseSchema, {
            jobId: existing.id,
            status: apiStatus(existing.status),
            imageRef: existing.imageRef,
            imageDigest: existing.imageDigest,
            estimatedDurationMinutes: deps.estimatedDurationMinutes,
            createdAt: timestampFromDate(existing.createdAt),
          });
        }
      }
      // A scan with no findings runs nothing, so it is not billed.
      const ticket = valid.findingCount > 0 ? await deps.quota.take(caller) : null;
      const jobId = randomUUID();
      let job: IAnalysisJob;
      try {
        const scan = await blobs.put(`jobs/${jobId}/scan.json`, valid.report, { contentType: "application/json" });
        const sbom = valid.sbom === null ? null : await blobs.put(`jobs/${jobId}/sbom.json`, valid.sbom, { contentType: "application/json" });
        // Every verdict answers a (vulnerability, package) of the scan: with no findings there is
        // no question to answer, so the job is COMPLETE with zero results at once, without running
        // the customer's image. No VEX is written: OpenVEX needs at least one statement.
        const step = valid.findingCount === 0 ? NO_FINDINGS_STEP : QUEUED_STEP;
        job = await store.create(
          {
            organizationId: valid.organizationId,
            imageRef: valid.imageRef,
            imageDigest: valid.imageDigest,
            sbomId: valid.sbomId,
            config: valid.config,
            scan,
            sbom,
            callbackUrl: valid.callbackUrl,
            idempotencyKey: valid.idempotencyKey,
            billedAt: ticket?.billedAt ?? null,
            requestFingerprint: fingerprint,
            status: step.status,
            phase: step.phase,
            progress: step.progress,
            ...(valid.findingCount === 0
              ? { completedAtSubmit: { kind: "completed_without_findings", detail: { reason: "the vulnerability report has no findings" } } }
              : {}),
          },
          jobId,
        );
      } catch (err) {
        if (ticket !== null) await deps.quota.giveBack(caller, ticket);
        // Two submits with one key at once: the unique index let one through; answer with its job.
        if (err instanceof UniqueConstraintViolationException && valid.idempotencyKey !== null) {
          const winner = await replaySubmit(store, valid.organizationId, valid.idempotencyKey, fingerprint);
          if (winner !== undefined) return replayedResponse(winner, deps.estimatedDurationMinutes);
        }
        throw err;
      }
      await audited(context, "submit", job, { imageRef: job.imageRef, imageDigest: job.imageDigest });
      if (valid.findingCount === 0) {
        logger.info("analysis complete at submit: the scan has no findings", { jobId: job.id, imageRef: job.imageRef, organizationId: job.organizationId });
        return create(SubmitAnalysisResponseSchema, {
          jobId: job.id,
          status: apiStatus(job.status),
          imageRef: job.imageRef,
          imageDigest: job.imageDigest,
          estimatedDurationMinutes: 0,
          createdAt: timestampFromDate(job.createdAt),
        });
      }
      try {
        await lifecycle.dispatch(job.id);
      } catch (cause) {
        // The job is stored; the reconciler re-publishes its request once the deadline passes.
        logger.error("dispatch failed; the reconciler will retry", { jobId: job.id, error: String(cause) });
      }
      logger.info("analysis submitted", { jobId: job.id, imageRef: job.imageRef, organizationId: job.organizationId });
      return create(SubmitAnalysisResponseSchema, {
        jobId: job.id,
        status: apiStatus(QUEUED_STEP.status),
        imageRef: job.imageRef,
        imageDigest: job.imageDigest,
        estimatedDurationMinutes: deps.estimatedDurationMinutes,
        createdAt: timestampFromDate(job.createdAt),
      });
    },

    async getAnalysis(req, context) {
      return create(GetAnalysisResponseSchema, { analysis: toAnalysis(await loadJobView(store, req.jobId, callerOf(context).organizationId)) });
    },

    async *watchAnalysis(req, context) {
      // The current state first, then one message per line of the job's event log: two changes
      // made between two reads of the row are both sent, not only the later one.
      let job = await loadJob(store, req.jobId, callerOf(context).organizationId);
      // The log position before the row is read: a change in between is sent twice at worst (deduplicated), never lost.
      let cursor = await store.lastEventId(job.id);
      job = (await store.find(job.id)) ?? job;
      let last = watchFingerprint(job.status, job.currentPhase, job.progressPercent, job.attempt);
      yield create(WatchAnalysisResponseSchema, { analysis: toAnalysis(job) });
      for (;;) {
        if (isFinal(job.status as never) || context.signal.aborted || hub.closed) return;
        await hub.waitForChange(job.id, deps.watchPollMs, context.signal);
        if (context.signal.aborted || hub.closed) return;
        // The row before the log: a final row's final line (same transaction) is then in `events`.
        job = (await store.find(job.id)) ?? job;
        const events = await store.eventsAfter(job.id, cursor);
        for (const ev of events) {
          cursor = ev.id;
          const fingerprint = watchFingerprint(ev.status, ev.phase, ev.progressPercent, ev.attempt);
          if (fingerprint === last) continue;
          last = fingerprint;
          const final = isFinal(ev.status as never);
          yield create(WatchAnalysisResponseSchema, {
            analysis: {
              ...toAnalysis(job),
              status: apiStatus(ev.status),
              currentPhase: ev.phase,
              progressPercent: ev.progressPercent,
              attempt: ev.attempt,
              ...(final ? {} : { completedAt: undefined, errorMessage: "" }),
            },
          });
          if (final) return;
        }
      }
    },

    async getAnalysisResults(req, context) {
      const job = await loadJob(store, req.jobId, callerOf(context).organizationId);
      if (job.status !== "COMPLETE") {
        throw new FailedPreconditionError(`job_id ${job.id}: results exist only for a COMPLETE analysis (status is ${job.status}, phase ${job.currentPhase})`);
      }
      if (req.pageSize > MAX_RESULTS_PAGE) {
        throw new InvalidFieldError("page_size", `page_size must be 0 (every result) or 1..${MAX_RESULTS_PAGE} (got ${req.pageSize})`);
      }
      const offset = decodePageToken(req.pageToken);
      await audited(context, "results_read", job, { pageToken: req.pageToken, omitVex: req.omitVex });
      const { vexDocument, vexBundle, vexPublicKey, reachabilityVerdicts } = job;
      const formats = job.vexDocuments ?? [];
      if (vexDocument == null && formats.length === 0 && reachabilityVerdicts == null && (job.reachabilityResults ?? []).length === 0) {
        // The scan had no findings (completed at submit): nothing to state, so no VEX document.
        return create(GetAnalysisResultsResponseSchema, { jobId: job.id, executionProfile: toApiProfile(job.executionProfile ?? null) });
      }
      // A job that asked for CycloneDX only has no OpenVEX document (vex_document empty).
      if (((vexDocument == null || vexBundle == null) && formats.length === 0) || vexPublicKey == null) {
        throw new FailedPreconditionError(`job_id ${job.id}: the analysis completed without a signed VEX`);
      }
      const results = reachabilityVerdicts != null ? await verdictResults.read(job.id, reachabilityVerdicts) : toApiResults(job.reachabilityResults ?? []);
      if (offset > results.length) throw new InvalidFieldError("page_token", "page_token is not one this service issued");
      const end = req.pageSize === 0 ? results.length : pageEnd(results, offset, req.pageSize);
      // The documents come with the first page only (they grow with the results too), and
      // only below 2 MiB: larger ones are read with DownloadVex (vex-download.ts).
      const firstPage = req.pageToken === "";
      const omitted =
        firstPage &&
        ((vexDocument != null && vexBundle != null && vexTooLargeInline(vexDocument, vexBundle)) ||
          formats.some((d) => vexTooLargeInline(d.document, { ...d.bundle, size: d.bundle.size + (d.runtimeSbom?.size ?? 0) })));
      const withVex = !req.omitVex && firstPage && !omitted;
      const [doc, bundle] =
        withVex && vexDocument != null && vexBundle != null
          ? await Promise.all([blobs.getVerified(vexDocument), blobs.getVerified(vexBundle)])
          : [undefined, undefined];
      const vexDocuments = withVex ? await Promise.all(formats.map((d) => readVexDocument(blobs, d))) : [];
      const key = !req.omitVex && firstPage ? await blobs.getVerified(vexPublicKey) : undefined;
      return create(GetAnalysisResultsResponseSchema, {
        jobId: job.id,
        executionProfile: toApiProfile(job.executionProfile ?? null),
        reachabilityResults: results.slice(offset, end),
        generatedVexId: job.generatedVexId ?? "",
        ...(doc !== undefined ? { vexDocument: doc.toString("utf8") } : {}),
        ...(bundle !== undefined ? { vexBundle: bundle.toString("utf8") } : {}),
        ...(key !== undefined ? { signingPublicKeyPem: key.toString("utf8") } : {}),
        nextPageToken: end < results.length ? encodePageToken(end) : "",
        totalResults: results.length,
        vexDocuments,
        ...(firstPage && vexDocument != null && vexBundle != null
          ? { vexOmitted: omitted, vexDocumentInfo: blobInfo(vexDocument), vexBundleInfo: blobInfo(vexBundle) }
          : firstPage
            ? { vexOmitted: omitted }
            : {}),
      });
    },

    async *downloadVex(req, context) {
      const job = await loadJob(store, req.jobId, callerOf(context).organizationId);
      await audited(context, "vex_download", job, { artifact: req.artifact });
      yield* streamVex(job, req, blobs, context.signal);
    },

    async cancelAnalysis(req, context) {
      const before = await loadJob(store, req.jobId, callerOf(context).organizationId);
      if (isFinal(before.status as never)) {
        throw new FailedPreconditionError(`job_id ${before.id}: cannot cancel an analysis that is already ${before.status}`);
      }
      const job = await lifecycle.cancel(before.id, req.reason);
      if (job === undefined) throw new NotFoundError(`job_id ${req.jobId}: no such analysis`);
      await audited(context, "cancel", job, { reason: req.reason });
      return create(CancelAnalysisResponseSchema, { analysis: toAnalysis(job) });
    },

    async getUsage(req, context) {
      return await usageReport(store, deps.quota, callerOf(context), req);
    },

    async listAnalyses(req, context) {
      const organizationId = requestOrganization(callerOf(context), "organization_id", req.organizationId);
      const pageSize = req.pageSize === 0 ? 20 : req.pageSize;
      if (pageSize < 1 || pageSize > 100) throw new InvalidFieldError("page_size", `page_size must be 1..100 (got ${req.pageSize})`);
      const after = decodeListToken(req.pageToken);
      const status = storedStatus(req.status);
      const createdAfter = listBound("created_after", req.createdAfter);
      const createdBefore = listBound("created_before", req.createdBefore);
      if (createdAfter !== undefined && createdBefore !== undefined && createdAfter.getTime() >= createdBefore.getTime()) {
        throw new InvalidFieldError("created_before", "created_before must be later than created_after");
      }
      const rows = await store.list(
        {
          organizationId,
          ...(status !== undefined ? { status } : {}),
          ...(req.imageRef !== "" ? { imageRef: req.imageRef } : {}),
          ...(req.imageDigest !== "" ? { imageDigest: req.imageDigest } : {}),
          ...(createdAfter !== undefined ? { createdAfter } : {}),
          ...(createdBefore !== undefined ? { createdBefore } : {}),
        },
        after,
        pageSize + 1,
      );
      const page = rows.slice(0, pageSize);
      const last = page[page.length - 1];
      return create(ListAnalysesResponseSchema, {
        analyses: page.map(toAnalysis),
        nextPageToken: rows.length > pageSize && last !== undefined ? encodeListToken(last) : "",
      });
    },
  };
}

/** One format's signed VEX as the API returns it, each blob's sha256 checked. */
async function readVexDocument(blobs: BlobStore, stored: StoredVexDocument): Promise<VexDocument> {
  const [document, bundle, sbom] = await Promise.all([
    blobs.getVerified(stored.document),
    blobs.getVerified(stored.bundle),
    stored.runtimeSbom !== undefined ? blobs.getVerified(stored.runtimeSbom) : Promise.resolve(undefined),
  ]);
  return create(VexDocumentSchema, {
    format: stored.format === "cyclonedx" ? VexFormat.CYCLONEDX : VexFormat.OPENVEX,
    documentId: stored.documentId,
    document: document.toString("utf8"),
    bundle: bundle.toString("utf8"),
    ...(sbom !== undefined ? { runtimeSbom: sbom.toString("utf8") } : {}),
  });
}
