/**
 * The monthly analysis quota: the limit of an organization (its override row, else its tier's
 * configured limit, else the default), taken at submit and given back when a job ends before
 * its sandbox started (JobStore.mutate with refundQuota). Exceeding it is ResourceExhausted
 * naming the limit and when it resets (the start of the next month, UTC).
 */
import { QuotaExceededError } from "@vexxy/platform";
import type { Caller } from "@vexxy/auth";
import { periodEnd, periodStart, type QuotaStore, type QuotaUsage } from "./store/quota-store.js";

/** Monthly limits by tier, and for tiers not listed. */
export interface QuotaSettings {
  readonly monthlyLimits: Readonly<Record<string, number>>;
  readonly defaultMonthlyLimit: number;
}

/** A unit taken: when (the job's billed_at) and the usage after it. */
export interface QuotaTicket extends QuotaUsage {
  readonly billedAt: Date;
}

function monthName(at: Date): string {
  return at.toISOString().slice(0, 7);
}

export class QuotaPolicy {
  constructor(
    private readonly store: QuotaStore,
    private readonly settings: QuotaSettings,
  ) {}

  /** The caller's monthly limit: its organization's override, else its tier's, else the default. */
  async limitFor(caller: Caller): Promise<number> {
    const override = await this.store.overrideFor(caller.organizationId);
    return override ?? this.settings.monthlyLimits[caller.tier] ?? this.settings.defaultMonthlyLimit;
  }

  /**
   * Takes one analysis of the caller's current month.
   * @throws QuotaExceededError (ResourceExhausted) naming the limit and the reset time.
   */
  async take(caller: Caller, now: Date = new Date()): Promise<QuotaTicket> {
    const limit = await this.limitFor(caller);
    const usage = await this.store.take(caller.organizationId, now, limit);
    if (usage === undefined) {
      throw new QuotaExceededError(
        `monthly analysis quota exhausted for organization ${caller.organizationId}: limit ${limit} analyses in ${monthName(now)} (UTC); resets at ${periodEnd(now).toISOString()}`,
      );
    }
    return { ...usage, billedAt: now };
  }

  /** Gives back a unit taken by take() whose job was never stored. */
  async giveBack(caller: Caller, ticket: QuotaTicket): Promise<void> {
    await this.store.giveBack(caller.organizationId, ticket.billedAt);
  }

  /** Used and limit of the month holding `at`. */
  async usage(caller: Caller, at: Date): Promise<QuotaUsage & { readonly start: Date; readonly end: Date }> {
    const [used, limit] = await Promise.all([this.store.used(caller.organizationId, at), this.limitFor(caller)]);
    return { used, limit, start: periodStart(at), end: periodEnd(at) };
  }
}
