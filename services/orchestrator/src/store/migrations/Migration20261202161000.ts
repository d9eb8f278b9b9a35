import { Migration } from "@mikro-orm/migrations";

/**
 * Completion webhooks and the audit log. webhook_outbox holds one row per job with a
 * callback_url, inserted in the same transaction that makes the job final (so a crash never
 * loses a notification); webhook_deliveries records every attempt. audit_log records who did
 * what to which job. The (created_at, id) index serves ListAnalyses' keyset paging.
 */
export class Migration20261202161000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists "webhook_outbox" (
      "job_id" uuid not null primary key,
      "message_id" varchar(255) not null,
      "url" text not null,
      "state" varchar(32) not null,
      "body" text null,
      "attempts" int not null default 0,
      "created_at" timestamptz not null,
      "next_at" timestamptz not null,
      "delivered_at" timestamptz null
    );`);
    this.addSql(`create index if not exists "webhook_outbox_due_index" on "webhook_outbox" ("next_at") where "state" = 'pending';`);
    this.addSql(`create table if not exists "webhook_deliveries" (
      "id" bigserial primary key,
      "job_id" uuid not null,
      "attempt" int not null,
      "status_code" int null,
      "error" text null,
      "at" timestamptz not null,
      "next_at" timestamptz null
    );`);
    this.addSql(`create index if not exists "webhook_deliveries_job_id_index" on "webhook_deliveries" ("job_id");`);
    this.addSql(`create table if not exists "audit_log" (
      "id" bigserial primary key,
      "organization_id" varchar(255) not null,
      "subject" varchar(255) not null,
      "action" varchar(64) not null,
      "job_id" uuid null,
      "at" timestamptz not null,
      "detail" jsonb not null default '{}'
    );`);
    this.addSql(`create index if not exists "audit_log_organization_id_at_index" on "audit_log" ("organization_id", "at");`);
    this.addSql(`create index if not exists "audit_log_job_id_index" on "audit_log" ("job_id");`);
    this.addSql(`create index if not exists "analysis_job_created_at_id_index" on "analysis_job" ("created_at" desc, "id" desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "analysis_job_created_at_id_index";`);
    this.addSql(`drop table if exists "audit_log";`);
    this.addSql(`drop table if exists "webhook_deliveries";`);
    this.addSql(`drop table if exists "webhook_outbox";`);
  }
}
