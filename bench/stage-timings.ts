/**
 * Reads a finished job's append-only event log from the orchestrator's schema and turns it
 * into per-stage durations: the log records when each stage's event arrived.
 */
import pg from "pg";

export interface StageTimings {
  readonly total: number;
  readonly sandboxStart: number;
  readonly tracedRun: number;
  readonly profile: number;
  readonly verdicts: number;
  readonly vexAndSigning: number;
}

/** Seconds between the log's milestones for jobId (attempt 1). @throws when a milestone is missing. */
export async function stageTimings(databaseUrl: string, jobId: string): Promise<StageTimings> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ kind: string; created_at: Date }>(
      "select kind, created_at from orchestrator.job_event where job_id = $1 order by id",
      [jobId],
    );
    const at = (kind: string): number => {
      const row = rows.find((r) => r.kind === kind);
      if (row === undefined) throw new Error(`job ${jobId} has no "${kind}" in its event log (${rows.map((r) => r.kind).join(", ")})`);
      return row.created_at.getTime() / 1000;
    };
    const submitted = at("submitted");
    const started = at("vexxy.sandbox.started");
    const completed = at("vexxy.sandbox.completed");
    const profiled = at("vexxy.profile.ready");
    const scored = at("vexxy.reachability.scored");
    const signed = at("vexxy.vex.signed");
    return {
      total: signed - submitted,
      sandboxStart: started - submitted,
      tracedRun: completed - started,
      profile: profiled - completed,
      verdicts: scored - profiled,
      vexAndSigning: signed - scored,
    };
  } finally {
    await client.end();
  }
}
