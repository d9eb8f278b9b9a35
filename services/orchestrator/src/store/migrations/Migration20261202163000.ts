import { Migration } from "@mikro-orm/migrations";

/**
 * The job row keeps every format's signed VEX (format, document id, document, bundle and, for
 * CycloneDX, the runtime SBOM; keys and sha256s): a job may ask for OpenVEX, CycloneDX or both.
 * vex_document and vex_bundle keep the OpenVEX one, as before.
 */
export class Migration20261202163000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "analysis_job" add column if not exists "vex_documents" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "analysis_job" drop column if exists "vex_documents";`);
  }
}
