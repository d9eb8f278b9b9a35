/**
 * What a stage keeps in its ledger row's outcome, typed. Every stage writes the same shape:
 *
 *   { instanceId?, progress?, event?, failure?: {reason, message, retryable}, cancelReason? }
 *
 * `event` is the recorded success event as protobuf JSON (the exact message re-published on
 * redelivery); `progress` is what a running attempt notes (the stage decodes it with its own
 * codec); `instanceId` is the process that claimed the row (replicas: only it holds live work).
 * Rows written before this shape (the event as a JSON string under a stage-specific key, the
 * failure's fields at the top level) are still read.
 */
import { fromJson, fromJsonString, type JsonValue } from "@bufbuild/protobuf";
import { schemaOf, type EventPayload, type Subject } from "@vexxy/events";
import type { StageRecord, StageState } from "@vexxy/ledger";
import { StageFailure } from "./stage-failure.js";

/** Reads a stage's own progress notes back from a row (returns undefined for none). */
export type ProgressCodec<P> = (json: Readonly<Record<string, unknown>>) => P | undefined;

/** A ledger row as the stage sees it. */
export interface StageView<E, P> {
  readonly jobId: string;
  readonly attempt: number;
  readonly state: StageState;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The instance id of the process that claimed the row (undefined for rows older than replicas). */
  readonly owner: string | undefined;
  /** The stage's last progress notes (kept when the row ends). */
  readonly progress: P | undefined;
  /** The recorded success event (state done). */
  readonly event: E | undefined;
  /** The recorded failure (state failed or interrupted). */
  readonly failure: StageFailure | undefined;
  /** Why the attempt was cancelled (state cancelled). */
  readonly cancelReason: string | undefined;
}

/** How to read one stage's rows. */
export interface StageRecordFormat<S extends Subject, P> {
  /** The subject whose payload a done row records. */
  readonly done: S;
  /** Decodes progress notes; without it progress is always undefined. */
  readonly progress?: ProgressCodec<P>;
  /** The key under which rows older than this format kept the event as a JSON string. */
  readonly legacyEventKey?: string;
}

const asString = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The typed view of a row. Never throws: an undecodable event or failure reads as absent. */
export function viewOf<S extends Subject, P>(format: StageRecordFormat<S, P>, record: StageRecord): StageView<EventPayload<S>, P> {
  const outcome = record.outcome;
  return {
    jobId: record.jobId,
    attempt: record.attempt,
    state: record.state,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    owner: asString(outcome["instanceId"]),
    progress: format.progress?.(isObject(outcome["progress"]) ? outcome["progress"] : outcome),
    event: record.state === "done" ? recordedEvent(format, outcome) : undefined,
    failure: record.state === "failed" || record.state === "interrupted" ? recordedFailure(outcome, record.state === "interrupted") : undefined,
    cancelReason: record.state === "cancelled" ? (asString(outcome["cancelReason"]) ?? asString(outcome["reason"]) ?? "cancelled") : undefined,
  };
}

function recordedEvent<S extends Subject>(format: StageRecordFormat<S, unknown>, outcome: Readonly<Record<string, unknown>>): EventPayload<S> | undefined {
  const schema = schemaOf(format.done);
  try {
    if (outcome["event"] !== undefined) return fromJson(schema, outcome["event"] as JsonValue, { ignoreUnknownFields: true });
    const legacy = format.legacyEventKey !== undefined ? outcome[format.legacyEventKey] : undefined;
    if (typeof legacy === "string") return fromJsonString(schema, legacy, { ignoreUnknownFields: true });
  } catch {
    // An event that no longer decodes is treated as not recorded: the stage decides what to do.
  }
  return undefined;
}

function recordedFailure(outcome: Readonly<Record<string, unknown>>, interrupted: boolean): StageFailure {
  const fields = isObject(outcome["failure"]) ? outcome["failure"] : outcome;
  return new StageFailure(asString(fields["reason"]) ?? "stage_failed", asString(fields["message"]) ?? "", fields["retryable"] === true, { interrupted });
}

/** The outcome JSON of a row in each state (what the lifecycle writes). */
export const outcomeJson = {
  started(owner: string | undefined, progress?: object): Record<string, unknown> {
    return { ...(owner !== undefined ? { instanceId: owner } : {}), ...(progress !== undefined ? { progress } : {}) };
  },
  done(owner: string | undefined, event: JsonValue, progress?: object): Record<string, unknown> {
    return { ...(owner !== undefined ? { instanceId: owner } : {}), ...(progress !== undefined ? { progress } : {}), event };
  },
  failed(owner: string | undefined, failure: StageFailure, progress?: object): Record<string, unknown> {
    return {
      ...(owner !== undefined ? { instanceId: owner } : {}),
      ...(progress !== undefined ? { progress } : {}),
      failure: { reason: failure.reason, message: failure.message, retryable: failure.retryable },
    };
  },
  cancelled(owner: string | undefined, reason: string, progress?: object): Record<string, unknown> {
    return { ...(owner !== undefined ? { instanceId: owner } : {}), ...(progress !== undefined ? { progress } : {}), cancelReason: reason };
  },
};
