/**
 * The sandbox's record of its attempts: the stage ledger's rows (job, "sandbox", attempt) in
 * the Postgres schema "sandbox", in the shared stage format (@vexxy/stage): the owner's
 * instance id, the progress of a running attempt (phase, container id, driver), and at the end
 * either the SandboxCompleted event (protobuf JSON, re-published as is on redelivery) or the
 * failure.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Subjects } from "@vexxy/events";
import type { StageLedger, StageRecord, StageState } from "@vexxy/ledger";
import { InvalidFieldError } from "@vexxy/platform";
import { viewOf, type ProgressCodec, type StageRecordFormat } from "@vexxy/stage";
import { SandboxAttemptSchema, type SandboxAttempt } from "@vexxy/proto";

/** The stage name in the ledger. */
export const SANDBOX_STAGE = "sandbox";

/** The states SandboxAttempt.state takes. */
export const ATTEMPT_STATES = ["preparing", "running", "completed", "failed", "cancelled", "interrupted"] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** What a running attempt notes in its row. */
export interface SandboxProgress {
  readonly phase: "preparing" | "running";
  readonly containerId: string;
  readonly driver: string;
  /** Once running: the catalogue's object key and the profiler replica holding the trace. */
  readonly catalogue?: string;
  readonly profilerInstanceId?: string;
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/** Reads SandboxProgress back (rows before the shared format kept the same fields at the top level). */
export const sandboxProgress: ProgressCodec<SandboxProgress> = (json) => {
  const containerId = text(json["containerId"]);
  if (containerId === undefined) return undefined;
  const catalogue = text(json["catalogue"]);
  const profilerInstanceId = text(json["profilerInstanceId"]);
  return {
    phase: json["phase"] === "running" ? "running" : "preparing",
    containerId,
    driver: text(json["driver"]) ?? "",
    ...(catalogue !== undefined ? { catalogue } : {}),
    ...(profilerInstanceId !== undefined ? { profilerInstanceId } : {}),
  };
};

/** How the sandbox's rows read: a done row records sandbox.completed. */
export const SANDBOX_RECORD_FORMAT: StageRecordFormat<typeof Subjects.sandboxCompleted, SandboxProgress> = {
  done: Subjects.sandboxCompleted,
  progress: sandboxProgress,
  legacyEventKey: "completed",
};

/** The object key of an attempt's image catalogue. */
export function catalogueKey(jobId: string, attempt: number): string {
  return `jobs/${jobId}/attempts/${attempt}/catalogue.json`;
}

/** The SandboxAttempt view of a ledger row. */
export function toSandboxAttempt(record: StageRecord): SandboxAttempt {
  const view = viewOf(SANDBOX_RECORD_FORMAT, record);
  const state = attemptState(record.state, view.progress);
  const ended = state !== "preparing" && state !== "running";
  return create(SandboxAttemptSchema, {
    jobId: record.jobId,
    attempt: record.attempt,
    state,
    containerId: view.event?.containerId ?? view.progress?.containerId ?? "",
    driver: view.progress?.driver ?? "",
    reason: view.failure?.reason ?? (view.state === "cancelled" ? "cancelled" : ""),
    createdAt: timestampFromDate(record.createdAt),
    ...(ended ? { endedAt: timestampFromDate(record.updatedAt) } : {}),
  });
}

function attemptState(state: StageState, progress: SandboxProgress | undefined): AttemptState {
  switch (state) {
    case "started":
      return progress?.phase === "running" ? "running" : "preparing";
    case "done":
      return "completed";
    default:
      return state;
  }
}

/** Reads attempts for the RPCs. */
export class SandboxAttemptStore {
  constructor(private readonly ledger: StageLedger) {}

  /** The attempts of a job, oldest first. */
  async ofJob(jobId: string): Promise<SandboxAttempt[]> {
    return (await this.ledger.listByJob(jobId))
      .filter((r) => r.stage === SANDBOX_STAGE)
      .sort((a, b) => a.attempt - b.attempt)
      .map(toSandboxAttempt);
  }

  /**
   * Every attempt (or those in `state`), newest first.
   * @throws InvalidFieldError naming `state` when it is not one of ATTEMPT_STATES.
   */
  async list(state: string): Promise<SandboxAttempt[]> {
    if (state !== "" && !(ATTEMPT_STATES as readonly string[]).includes(state)) {
      throw new InvalidFieldError("state", `state must be one of ${ATTEMPT_STATES.join(", ")} (got "${state.slice(0, 40)}")`);
    }
    const ledgerStates: StageState[] = state === "" ? ["started", "done", "failed", "cancelled", "interrupted"] : [ledgerStateOf(state as AttemptState)];
    const rows = (await Promise.all(ledgerStates.map((s) => this.ledger.listByState(s)))).flat().filter((r) => r.stage === SANDBOX_STAGE);
    return rows
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map(toSandboxAttempt)
      .filter((a) => state === "" || a.state === state);
  }
}

function ledgerStateOf(state: AttemptState): StageState {
  if (state === "preparing" || state === "running") return "started";
  if (state === "completed") return "done";
  return state;
}
