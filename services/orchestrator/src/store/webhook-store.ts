/**
 * Webhook outbox and delivery log. A job's notification row is inserted in the transaction
 * that makes the job final (JobStore), so it exists exactly when the job ended. Delivery takes
 * one due row at a time with FOR UPDATE SKIP LOCKED and keeps it locked for the attempt, so
 * orchestrator replicas share the work and never send the same attempt twice; the attempt's
 * outcome and its log line are written in that same transaction.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { LockMode } from "@mikro-orm/core";
import { randomUUID } from "node:crypto";
import { WebhookDelivery, WebhookOutbox, type IAnalysisJob, type IWebhookDelivery, type IWebhookOutbox } from "./entities.js";

/** What one attempt did. `nextAt` null with `delivered` false means the retry window is over. */
export interface AttemptOutcome {
  /** The body sent (frozen on the row at the first attempt). */
  readonly body: string | null;
  readonly statusCode: number | null;
  readonly error: string | null;
  readonly delivered: boolean;
  readonly nextAt: Date | null;
}

/** Adds the job's notification row to em's transaction when the job has a callback URL. */
export function enqueueWebhook(em: EntityManager, job: IAnalysisJob, now: Date): void {
  if (job.callbackUrl == null || job.callbackUrl === "") return;
  em.create(WebhookOutbox, {
    jobId: job.id,
    messageId: `msg_${randomUUID()}`,
    url: job.callbackUrl,
    state: "pending",
    body: null,
    attempts: 0,
    createdAt: now,
    nextAt: now,
    deliveredAt: null,
  });
}

export class WebhookStore {
  constructor(private readonly root: EntityManager) {}

  /**
   * Locks the earliest due pending row that no other replica holds, runs `attempt` on it and
   * records the outcome. Returns false when nothing was due.
   */
  async deliverNextDue(now: Date, attempt: (row: IWebhookOutbox) => Promise<AttemptOutcome>): Promise<boolean> {
    return await this.root.fork().transactional(async (em) => {
      const row = await em.findOne(
        WebhookOutbox,
        { state: "pending", nextAt: { $lte: now } },
        { orderBy: { nextAt: "asc" }, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE },
      );
      if (row === null) return false;
      const outcome = await attempt(row);
      const at = new Date();
      row.attempts += 1;
      if (outcome.body !== null) row.body = outcome.body;
      if (outcome.delivered) {
        row.state = "delivered";
        row.deliveredAt = at;
      } else if (outcome.nextAt === null) {
        row.state = "gave_up";
      } else {
        row.nextAt = outcome.nextAt;
      }
      em.create(WebhookDelivery, {
        jobId: row.jobId,
        attempt: row.attempts,
        statusCode: outcome.statusCode,
        error: outcome.error,
        at,
        nextAt: outcome.delivered ? null : outcome.nextAt,
      });
      await em.flush();
      return true;
    });
  }

  /** The job's notification row, or undefined. */
  async outbox(jobId: string): Promise<IWebhookOutbox | undefined> {
    return (await this.root.fork().findOne(WebhookOutbox, { jobId })) ?? undefined;
  }

  /** Every recorded attempt of the job's webhook, oldest first. */
  async deliveries(jobId: string): Promise<IWebhookDelivery[]> {
    return await this.root.fork().find(WebhookDelivery, { jobId }, { orderBy: { id: "asc" } });
  }
}
