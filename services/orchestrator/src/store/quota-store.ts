/**
 * Monthly analysis quota in Postgres. A submit takes one unit with a single
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE used < limit RETURNING`: the row lock Postgres
 * takes for the conflicting update serialises concurrent submits of one organization, so the
 * count never passes the limit however many arrive at once. A refund gives the unit back in the
 * transaction that ends the job (see JobStore.mutate).
 */
import type { EntityManager } from "@mikro-orm/postgresql";

/** One organization's usage in one month. */
export interface QuotaUsage {
  readonly used: number;
  readonly limit: number;
}

/** The first instant (UTC) of the month holding `at`. */
export function periodStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/** The first instant (UTC) of the month after the one holding `at`: when the quota resets. */
export function periodEnd(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export class QuotaStore {
  constructor(private readonly root: EntityManager) {}

  /** The organization's override of its tier's monthly limit, if any. */
  async overrideFor(organizationId: string): Promise<number | undefined> {
    const rows = await this.root
      .fork()
      .execute<{ monthly_limit: number }[]>(`select "monthly_limit" from "organization_quota" where "organization_id" = ?`, [organizationId]);
    return rows[0]?.monthly_limit;
  }

  /** Sets (or with null removes) an organization's monthly limit override. */
  async setOverride(organizationId: string, monthlyLimit: number | null, note = ""): Promise<void> {
    const em = this.root.fork();
    if (monthlyLimit === null) {
      await em.execute(`delete from "organization_quota" where "organization_id" = ?`, [organizationId]);
      return;
    }
    await em.execute(
      `insert into "organization_quota" ("organization_id", "monthly_limit", "note", "updated_at") values (?, ?, ?, now())
       on conflict ("organization_id") do update set "monthly_limit" = excluded."monthly_limit", "note" = excluded."note", "updated_at" = now()`,
      [organizationId, monthlyLimit, note],
    );
  }

  /**
   * Takes one unit of the month holding `at` if fewer than `limit` are used; returns the usage
   * after taking it, or undefined when the limit is reached (nothing is changed then).
   */
  async take(organizationId: string, at: Date, limit: number): Promise<QuotaUsage | undefined> {
    if (limit <= 0) return undefined;
    const rows = await this.root.fork().execute<{ used: number; monthly_limit: number }[]>(
      `insert into "quota_usage" ("organization_id", "period_start", "used", "monthly_limit", "updated_at") values (?, ?, 1, ?, now())
       on conflict ("organization_id", "period_start") do update
         set "used" = "quota_usage"."used" + 1, "monthly_limit" = excluded."monthly_limit", "updated_at" = now()
         where "quota_usage"."used" < excluded."monthly_limit"
       returning "used", "monthly_limit"`,
      [organizationId, day(periodStart(at)), limit],
    );
    const row = rows[0];
    return row === undefined ? undefined : { used: row.used, limit: row.monthly_limit };
  }

  /** Gives back one unit of the month holding `billedAt` (never below zero); `em` may be a transaction's. */
  async giveBack(organizationId: string, billedAt: Date, em: EntityManager = this.root.fork()): Promise<void> {
    await em.execute(`update "quota_usage" set "used" = "used" - 1, "updated_at" = now() where "organization_id" = ? and "period_start" = ? and "used" > 0`, [
      organizationId,
      day(periodStart(billedAt)),
    ]);
  }

  /** Units used in the month holding `at` (0 when none were taken). */
  async used(organizationId: string, at: Date): Promise<number> {
    const rows = await this.root
      .fork()
      .execute<{ used: number }[]>(`select "used" from "quota_usage" where "organization_id" = ? and "period_start" = ?`, [
        organizationId,
        day(periodStart(at)),
      ]);
    return rows[0]?.used ?? 0;
  }
}
