/**
 * Delivers completion webhooks from the outbox. Each pass takes due rows one at a time
 * (WebhookStore.deliverNextDue, FOR UPDATE SKIP LOCKED, so replicas share the rows), checks the
 * callback URL again (SSRF: DNS may have changed since submit), signs the frozen body and
 * posts it to the checked address. A 2xx ends the delivery; anything else is retried with
 * exponential backoff and jitter until the retry window (from the job's end) is over. Every
 * attempt is a row in webhook_deliveries. Rows survive a restart: a new process picks them up.
 */
import type { Logger } from "@vexxy/platform";
import type { IWebhookOutbox } from "../store/entities.js";
import type { JobStore } from "../store/job-store.js";
import type { AttemptOutcome, WebhookStore } from "../store/webhook-store.js";
import type { VerdictResults } from "../verdict-results.js";
import type { CallbackGuard } from "./callback-guard.js";
import type { WebhookConnector } from "./webhook-connector.js";
import { countVerdicts, webhookBody } from "./webhook-payload.js";
import { signWebhook } from "./webhook-signature.js";

export interface WebhookSettings {
  /** Signing key (parseWebhookSecret of WEBHOOK_SECRET). */
  readonly key: Buffer;
  /** How long after the job ended attempts go on. */
  readonly retryWindowSeconds: number;
  /** The first retry's delay; each next one doubles, up to maxDelayMs, then jitter takes up to half off. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** One attempt's time limit. */
  readonly timeoutMs: number;
}

/** The delay before retry number `attempt` (1-based): min(max, base·2^(attempt-1)), less up to half at random. */
export function backoffMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class WebhookDispatcher {
  constructor(
    private readonly outbox: WebhookStore,
    private readonly jobs: JobStore,
    private readonly verdicts: VerdictResults,
    private readonly guard: CallbackGuard,
    private readonly connector: WebhookConnector,
    private readonly settings: WebhookSettings,
    private readonly logger: Logger,
  ) {}

  /** Delivers every row due now (at most `limit`); returns how many attempts were made. */
  async runOnce(limit = 50): Promise<number> {
    let attempts = 0;
    while (attempts < limit && (await this.outbox.deliverNextDue(new Date(), (row) => this.attempt(row)))) attempts += 1;
    return attempts;
  }

  private async attempt(row: IWebhookOutbox): Promise<AttemptOutcome> {
    let body: string | null = row.body ?? null;
    try {
      if (body === null) {
        const job = await this.jobs.find(row.jobId);
        if (job === undefined) return { body: null, statusCode: null, error: "the job no longer exists", delivered: false, nextAt: null };
        body = JSON.stringify(webhookBody(job, await countVerdicts(job, this.verdicts)));
      }
      const target = await this.guard.check(row.url);
      const headers = signWebhook(this.settings.key, row.messageId, new Date(), body);
      const { statusCode } = await this.connector(target, { ...headers }, body, this.settings.timeoutMs);
      if (statusCode >= 200 && statusCode < 300) {
        this.logger.info("webhook delivered", { jobId: row.jobId, attempt: row.attempts + 1, statusCode });
        return { body, statusCode, error: null, delivered: true, nextAt: null };
      }
      return this.retryLater(row, body, statusCode, `the receiver answered ${statusCode}`);
    } catch (err) {
      return this.retryLater(row, body, null, err instanceof Error ? err.message : String(err));
    }
  }

  private retryLater(row: IWebhookOutbox, body: string | null, statusCode: number | null, error: string): AttemptOutcome {
    const next = new Date(Date.now() + backoffMs(row.attempts + 1, this.settings.baseDelayMs, this.settings.maxDelayMs));
    const giveUpAt = row.createdAt.getTime() + this.settings.retryWindowSeconds * 1000;
    const nextAt = next.getTime() > giveUpAt ? null : next;
    this.logger.warn(nextAt === null ? "webhook given up: the retry window is over" : "webhook attempt failed; retrying", {
      jobId: row.jobId,
      attempt: row.attempts + 1,
      statusCode,
      error,
      ...(nextAt !== null ? { nextAt: nextAt.toISOString() } : {}),
    });
    return { body, statusCode, error, delivered: false, nextAt };
  }

  /** Runs passes every intervalMs until stopped; `wake()` starts a pass now (a job just ended). */
  start(intervalMs: number): { stop(): Promise<void>; wake(): void } {
    let stopped = false;
    let running: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    let busy = false;
    const tick = (): void => {
      if (stopped || busy) return;
      clearTimeout(timer);
      busy = true;
      running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.logger.error("webhook pass failed", { error: String(err) }))
        .finally(() => {
          busy = false;
          if (!stopped) timer = setTimeout(tick, intervalMs);
        });
    };
    timer = setTimeout(tick, 0);
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await running;
      },
      wake: tick,
    };
  }
}
