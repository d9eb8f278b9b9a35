import { Migration } from "@mikro-orm/migrations";

/**
 * Quota and idempotency. quota_usage counts each organization's billed analyses per calendar
 * month (UTC), one row per (organization, month) updated atomically at submit; organization_quota
 * holds per-organization overrides of the tier's monthly limit. analysis_job keeps a fingerprint
 * of the submitted request (a sha256 per field) so a replay under the same idempotency key with a
 * different body is refused naming the differing fields.
 */
export class Migration20261202160000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists "quota_usage" (
      "organization_id" varchar(128) not null,
      "period_start" date not null,
      "used" int not null default 0 check ("used" >= 0),
      "monthly_limit" int not null,
      "updated_at" timestamptz not null default now(),
      primary key ("organization_id", "period_start")
    );`);
    this.addSql(`create table if not exists "organization_quota" (
      "organization_id" varchar(128) not null primary key,
      "monthly_limit" int not null check ("monthly_limit" >= 0),
      "note" text null,
      "updated_at" timestamptz not null default now()
    );`);
    this.addSql(`alter table "analysis_job" add column if not exists "request_fingerprint" jsonb null;`);
    this.addSql(`create index if not exists "analysis_job_org_billed_index" on "analysis_job" ("organization_id", "billed_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "analysis_job_org_billed_index";`);
    this.addSql(`alter table "analysis_job" drop column if exists "request_fingerprint";`);
    this.addSql(`drop table if exists "organization_quota";`);
    this.addSql(`drop table if exists "quota_usage";`);
  }
}
