/**
 * The sandbox's record of its attempts: the stage ledger's rows (job, "sandbox", attempt) in
 * the Postgres schema "sandbox". A row's outcome keeps the phase of a running attempt, its
 * container id and driver, and at the end either the SandboxCompleted message (protobuf JSON,
 * re-published as is on redelivery) or the failure's reason, message and retryable flag.
 */
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { StageLedger, StageRecord, StageState } from "@vexxy/ledger";
import { InvalidFieldError } from "@vexxy/platform";
import { SandboxAttemptSchema, SandboxCompletedSchema, type SandboxAttempt, type SandboxCompleted } from "@vexxy/proto";

/** The stage name in the ledger. */
export const SANDBOX_STAGE = "sandbox";

/** The states SandboxAttempt.state takes. */
export const ATTEMPT_STATES = ["preparing", "running", "completed", "failed", "cancelled", "interrupted"] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** The recorded failure of an attempt. */
export interface RecordedFailure {
  readonly reason: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** The object key of an attempt's image catalogue. */
export function catalogueKey(jobId: string, attempt: number): string {
  return `jobs/${jobId}/attempts/${attempt}/catalogue.json`;
}

/** The SandboxCompleted a done row recorded, or undefined. */
export function recordedCompletion(record: StageRecord): SandboxCompleted | undefined {
  const json = record.outcome["completed"];
  if (typeof json !== "string") return undefined;
  return fromJsonString(SandboxCompletedSchema, json, { ignoreUnknownFields: true });
}

/** The outcome fields that record a completion. */
export function completionOutcome(completed: SandboxCompleted, driver: string): Record<string, unknown> {
  return { containerId: completed.containerId, driver, completed: toJsonString(SandboxCompletedSchema, completed) };
}

/** The failure a failed or interrupted row recorded. */
export function recordedFailure(record: StageRecord): RecordedFailure {
  const { reason, message, retryable } = record.outcome;
  return { reason: typeof reason === "string" ? reason : "sandbox_failed", message: typeof message === "string" ? message : "", retryable: retryable === true };
}

/** The SandboxAttempt view of a ledger row. */
export function toSandboxAttempt(record: StageRecord): SandboxAttempt {
  const state = attemptState(record);
  const ended = state !== "preparing" && state !== "running";
  const reason = record.outcome["reason"];
  return create(SandboxAttemptSchema, {
    jobId: record.jobId,
    attempt: record.attempt,
    state,
    containerId: typeof record.outcome["containerId"] === "string" ? record.outcome["containerId"] : "",
    driver: typeof record.outcome["driver"] === "string" ? record.outcome["driver"] : "",
    reason: typeof reason === "string" ? reason : "",
    createdAt: timestampFromDate(record.createdAt),
    ...(ended ? { endedAt: timestampFromDate(record.updatedAt) } : {}),
  });
}

function attemptState(record: StageRecord): AttemptState {
  switch (record.state) {
    case "started":
      return record.outcome["phase"] === "running" ? "running" : "preparing";
    case "done":
      return "completed";
    default:
      return record.state;
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
