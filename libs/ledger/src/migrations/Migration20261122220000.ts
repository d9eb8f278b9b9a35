import { Migration } from "@mikro-orm/migrations";

/**
 * Creates `stage_run` (the idempotency ledger) in the schema the ORM was opened with. Names are
 * schema-qualified from the ORM's `schema` option rather than left to search_path, so the table
 * cannot land in `public` whoever runs this.
 */
export class Migration20261122220000 extends Migration {
  override async up(): Promise<void> {
    const schema = this.schemaName();
    this.addSql(`create table "${schema}"."stage_run" (
      "job_id" text not null,
      "stage" text not null,
      "attempt" int not null,
      "state" text not null,
      "outcome" jsonb not null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      constraint "stage_run_pkey" primary key ("job_id", "stage", "attempt"),
      constraint "stage_run_attempt_check" check ("attempt" >= 1),
      constraint "stage_run_state_check" check ("state" in ('started', 'done', 'failed', 'cancelled', 'interrupted'))
    );`);
    this.addSql(`create index "stage_run_state_index" on "${schema}"."stage_run" ("state");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "${this.schemaName()}"."stage_run";`);
  }

  private schemaName(): string {
    const schema = this.config.get("schema");
    if (schema === undefined || !/^[a-z_][a-z0-9_]*$/.test(schema)) {
      throw new Error(`stage_run migration needs the ORM's schema option set to a plain identifier, got ${JSON.stringify(schema)}`);
    }
    return schema;
  }
}
