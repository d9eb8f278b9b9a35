import { Migration } from "@mikro-orm/migrations";

/** Creates the job table, the append-only job event log and the evidence table. */
export class Migration20261122230000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "analysis_job" (
      "id" uuid not null primary key,
      "organization_id" varchar(255) not null,
      "image_ref" text not null,
      "image_digest" varchar(255) not null,
      "sbom_id" varchar(255) null,
      "status" varchar(255) not null,
      "priority" int not null default 0,
      "config" jsonb not null,
      "progress_percent" int not null default 0,
      "current_phase" varchar(255) not null,
      "attempt" int not null default 1,
      "retry_count" int not null default 0,
      "phase_deadline_at" timestamptz null,
      "redispatch_count" int not null default 0,
      "scan" jsonb not null,
      "sbom" jsonb null,
      "execution_profile" jsonb null,
      "reachability_results" jsonb null,
      "generated_vex_id" varchar(255) null,
      "vex_document" jsonb null,
      "vex_bundle" jsonb null,
      "vex_public_key" jsonb null,
      "idempotency_key" varchar(255) null,
      "callback_url" text null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "started_at" timestamptz null,
      "completed_at" timestamptz null,
      "error_message" text null,
      "billed_at" timestamptz null,
      "cost_credits" int not null default 1
    );`);
    this.addSql(`create index "analysis_job_organization_id_index" on "analysis_job" ("organization_id");`);
    this.addSql(`create index "analysis_job_image_digest_index" on "analysis_job" ("image_digest");`);
    this.addSql(`create index "analysis_job_status_index" on "analysis_job" ("status");`);
    this.addSql(`create index "analysis_job_phase_deadline_at_index" on "analysis_job" ("phase_deadline_at");`);
    this.addSql(`alter table "analysis_job" add constraint "analysis_job_org_idempotency_key_unique" unique ("organization_id", "idempotency_key");`);
    this.addSql(`create table "job_event" (
      "id" bigserial primary key,
      "job_id" uuid not null,
      "attempt" int not null,
      "kind" varchar(255) not null,
      "status" varchar(255) not null,
      "phase" varchar(255) not null,
      "progress_percent" int not null,
      "detail" jsonb not null,
      "created_at" timestamptz not null
    );`);
    this.addSql(`create index "job_event_job_id_index" on "job_event" ("job_id");`);
    // Append-only: the log is evidence of what happened; updates and deletes are refused.
    this.addSql(`create function "job_event_append_only"() returns trigger language plpgsql as $$
      begin raise exception 'job_event is append-only'; end; $$;`);
    this.addSql(`create trigger "job_event_no_update" before update or delete on "job_event"
      for each row execute function "job_event_append_only"();`);
    this.addSql(`create table "analysis_evidence" (
      "id" bigserial primary key,
      "job_id" uuid not null,
      "attempt" int not null,
      "evidence_type" varchar(255) not null,
      "storage_path" text not null,
      "sha256" varchar(64) not null,
      "file_size" bigint not null,
      "evidence_data" jsonb not null,
      "created_at" timestamptz not null
    );`);
    this.addSql(`create index "analysis_evidence_job_id_index" on "analysis_evidence" ("job_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "analysis_evidence";`);
    this.addSql(`drop trigger if exists "job_event_no_update" on "job_event";`);
    this.addSql(`drop table if exists "job_event";`);
    this.addSql(`drop function if exists "job_event_append_only"();`);
    this.addSql(`drop table if exists "analysis_job";`);
  }
}
