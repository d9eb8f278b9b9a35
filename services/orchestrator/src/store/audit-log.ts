/** The audit log (table audit_log): append-only rows of who did what to which job, and when. */
import type { EntityManager } from "@mikro-orm/postgresql";
import { AuditEntry, type AuditAction, type IAuditEntry } from "./entities.js";

/** One audited action. */
export interface AuditRecord {
  readonly organizationId: string;
  /** The authenticated subject, or "anonymous" before authentication is configured. */
  readonly subject: string;
  readonly action: AuditAction;
  readonly jobId: string | null;
  readonly detail?: Record<string, unknown>;
}

export class AuditLog {
  constructor(private readonly root: EntityManager) {}

  /** Appends one row. */
  async record(entry: AuditRecord): Promise<void> {
    const em = this.root.fork();
    em.create(AuditEntry, {
      organizationId: entry.organizationId,
      subject: entry.subject,
      action: entry.action,
      jobId: entry.jobId,
      at: new Date(),
      detail: entry.detail ?? {},
    });
    await em.flush();
  }

  /** Rows about a job, oldest first. */
  async forJob(jobId: string): Promise<IAuditEntry[]> {
    return await this.root.fork().find(AuditEntry, { jobId }, { orderBy: { id: "asc" } });
  }
}
