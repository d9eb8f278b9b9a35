import { Migration } from "@mikro-orm/migrations";

/**
 * The job row keeps a pointer to the reachability verdicts blob (key, sha256, size, count)
 * instead of every result inline: a scan of thousands of findings made the row, and the events
 * that carried the verdicts, too large. reachability_results stays for jobs completed before.
 */
export class Migration20261202123000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "analysis_job" add column if not exists "reachability_verdicts" jsonb null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "analysis_job" drop column if exists "reachability_verdicts";`);
  }
}
