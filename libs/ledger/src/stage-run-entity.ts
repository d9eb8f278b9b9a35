/**
 * The `stage_run` row: one per (job, stage, attempt) that a service claimed, in the service's
 * own schema. Defined with defineEntity (no decorators); the table itself is created by the
 * committed migration in ./migrations, never by schema:update (a test checks that this
 * metadata and the migrated table agree).
 */
import { defineEntity, type InferEntity } from "@mikro-orm/core";

/** Every StageState; the table's check constraint allows exactly these. */
export const STAGE_STATES = ["started", "done", "failed", "cancelled", "interrupted"] as const;

export const StageRun = defineEntity({
  name: "StageRun",
  tableName: "stage_run",
  properties: (p) => ({
    jobId: p.text().primary(),
    stage: p.text().primary(),
    attempt: p.integer().primary(),
    state: p.enum([...STAGE_STATES]),
    outcome: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  }),
  indexes: [{ name: "stage_run_state_index", properties: ["state"] }],
  checks: [{ name: "stage_run_attempt_check", expression: "attempt >= 1" }],
});

export type IStageRun = InferEntity<typeof StageRun>;
