/**
 * One stage lifecycle for every consumer that turns an inbound event into an outbound one:
 *
 *   claim (job, stage, attempt) in the ledger
 *   -> replay what an earlier delivery recorded (done: the same event again, same Nats-Msg-Id,
 *      so the stream drops the duplicate; failed/interrupted: the same failure; cancelled: drop)
 *   -> work (the stage's own code: returns the success event or throws)
 *   -> record (done + the event as protobuf JSON, or failed + the StageFailure)
 *   -> publish.
 *
 * A row found "started" is an earlier delivery that died mid-way (or a live run elsewhere):
 * deterministic stages redo the work under the same keys ("redo"); a stage that must never run
 * twice for one attempt (the sandbox) acknowledges and drops it ("skip"); a stage whose row was
 * claimed earlier by this service's own RPC (the profiler's StartTrace) continues it ("continue").
 *
 * Failure: work that throws a StageFailure (or an error the stage's classify() maps to one) is
 * recorded and published as the stage's failure event; work that throws StageCancelled ends
 * quietly (the canceller recorded it); anything else propagates, so the event is redelivered.
 * Recording or publishing that fails propagates too: the next delivery replays the record.
 */
import { create, toJson } from "@bufbuild/protobuf";
import { Subjects, schemaOf, eventMsgId, type EventBus, type EventPayload, type Subject } from "@vexxy/events";
import type { StageLedger } from "@vexxy/ledger";
import { AnalysisFailedSchema, type JobRef } from "@vexxy/proto";
import { StageCancelled, StageFailure } from "./stage-failure.js";
import { outcomeJson, viewOf, type StageRecordFormat, type StageView } from "./stage-record.js";

/** The logging the lifecycle does (the platform logger fits). */
export interface StageLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Publishes a stage's failure of a job attempt. */
export type FailurePublisher = (bus: EventBus, job: JobRef, failure: StageFailure) => Promise<void>;

/** The default failure event: vexxy.analysis.failed {stage, reason, message, retryable}. */
export function analysisFailedPublisher(stage: string): FailurePublisher {
  return async (bus, job, failure) => {
    await bus.publish(
      Subjects.analysisFailed,
      create(AnalysisFailedSchema, { job, stage, reason: failure.reason, message: failure.message, retryable: failure.retryable }),
      `${eventMsgId(Subjects.analysisFailed, job.jobId, job.attempt)}:${stage}`,
    );
  };
}

/** What a redelivery that finds the row "started" does (see the file's docblock). */
export type OnStarted = "redo" | "skip" | "continue";

/** A stage: its ledger name, its events, and how it treats a started row and errors. */
export interface StageSpec<S extends Subject, P> extends StageRecordFormat<S, P> {
  /** The ledger's stage name (also analysis.failed's `stage`). */
  readonly stage: string;
  readonly onStarted: OnStarted;
  /** Publishes the stage's failure (default analysisFailedPublisher(stage)). */
  readonly publishFailure?: FailurePublisher;
  /** Maps an error the work threw to the stage's failure, or undefined to have the event redelivered. */
  readonly classify?: (error: unknown) => StageFailure | undefined;
}

/** What the lifecycle needs from its service. */
export interface StageDeps {
  readonly ledger: StageLedger;
  readonly bus: EventBus;
  readonly logger: StageLogger;
  /** This process's instance id, recorded as the owner of the rows it claims. */
  readonly instanceId?: string;
}

/** Handed to the work: the job and a way to note progress in the row. */
export interface StageContext<P> {
  readonly job: JobRef;
  /** The row as the claim found it (a "continue" stage reads what its RPC recorded). */
  readonly claimed: StageView<unknown, P>;
  /** Notes progress in the row (state stays started). */
  recordProgress(progress: P & object): Promise<void>;
}

/** How run() ended. */
export type StageRunResult = "done" | "failed" | "replayed" | "dropped" | "cancelled" | "skipped";

/** A job reference worth working on: a job id and an attempt of at least 1. */
export function usableJob(job: JobRef | undefined): job is JobRef {
  return job !== undefined && job.jobId !== "" && job.attempt >= 1;
}

/** One stage's lifecycle; one instance per process. */
export class StageLifecycle<S extends Subject, P = never> {
  private readonly publishFailureEvent: FailurePublisher;

  constructor(
    readonly spec: StageSpec<S, P>,
    private readonly deps: StageDeps,
  ) {
    this.publishFailureEvent = spec.publishFailure ?? analysisFailedPublisher(spec.stage);
  }

  /**
   * Runs the lifecycle for one inbound event of job.
   * @throws what the work, the ledger or the bus threw when it is not a stage failure (the
   *   event must be redelivered).
   */
  async run(job: JobRef | undefined, work: (context: StageContext<P>) => Promise<EventPayload<S>>): Promise<StageRunResult> {
    const { ledger, logger } = this.deps;
    const stage = this.spec.stage;
    if (!usableJob(job)) {
      logger.warn(`${stage}: event without job id or attempt dropped`);
      return "dropped";
    }
    const { claimed, record } = await ledger.claim(job.jobId, stage, job.attempt);
    const view = viewOf(this.spec, record);
    if (!claimed) {
      const replayed = await this.replay(job, view);
      if (replayed !== undefined) return replayed;
    }
    if (claimed || this.spec.onStarted === "redo" || view.state !== "started") {
      await ledger.update(job.jobId, stage, job.attempt, "started", outcomeJson.started(this.owner));
    }
    let progress: (P & object) | undefined;
    const context: StageContext<P> = {
      job,
      claimed: view,
      recordProgress: async (next) => {
        progress = next;
        await ledger.update(job.jobId, stage, job.attempt, "started", outcomeJson.started(this.owner, next));
      },
    };
    let event: EventPayload<S>;
    try {
      event = await work(context);
    } catch (error) {
      if (error instanceof StageCancelled) {
        logger.info(`${stage}: attempt cancelled`, { job: job.jobId, attempt: job.attempt, reason: error.reason });
        return "cancelled";
      }
      const failure = error instanceof StageFailure ? error : this.spec.classify?.(error);
      if (failure === undefined) throw error;
      await this.fail(job, failure, failure.interrupted ? "interrupted" : "failed", progress);
      logger.warn(`${stage} failed`, { job: job.jobId, attempt: job.attempt, reason: failure.reason, message: failure.message });
      return "failed";
    }
    await ledger.update(job.jobId, stage, job.attempt, "done", outcomeJson.done(this.owner, toJson(schemaOf(this.spec.done), event), progress));
    await this.deps.bus.publish(this.spec.done, event, eventMsgId(this.spec.done, job.jobId, job.attempt));
    return "done";
  }

  /**
   * Records a failure of an attempt (state failed, or interrupted for work a gone process left)
   * and publishes it. Used by run() and by start-up recovery.
   */
  async fail(job: JobRef, failure: StageFailure, state: "failed" | "interrupted" = "failed", progress?: object): Promise<void> {
    await this.deps.ledger.update(job.jobId, this.spec.stage, job.attempt, state, outcomeJson.failed(this.owner, failure, progress));
    await this.publishFailureEvent(this.deps.bus, job, failure);
  }

  /**
   * analysis.cancelled: marks the attempt cancelled unless it already ended (done, failed), so a
   * later event of it is dropped. Returns whether the row is now cancelled by this call.
   */
  async cancel(job: JobRef | undefined, reason: string, progress?: object): Promise<boolean> {
    if (!usableJob(job)) return false;
    const { claimed, record } = await this.deps.ledger.claim(job.jobId, this.spec.stage, job.attempt);
    if (!claimed && record.state !== "started") return false;
    await this.deps.ledger.update(job.jobId, this.spec.stage, job.attempt, "cancelled", outcomeJson.cancelled(this.owner, reason || "cancelled", progress));
    return true;
  }

  /**
   * analysis.cancelled of an attempt this process does not run: records it cancelled only when
   * nobody claimed it yet (a later event of it is then dropped); a row another process claimed
   * is left to that process. Returns whether it recorded the cancel.
   */
  async cancelUnclaimed(job: JobRef | undefined, reason: string): Promise<boolean> {
    if (!usableJob(job)) return false;
    const { claimed } = await this.deps.ledger.claim(job.jobId, this.spec.stage, job.attempt);
    if (!claimed) return false;
    await this.deps.ledger.update(job.jobId, this.spec.stage, job.attempt, "cancelled", outcomeJson.cancelled(this.owner, reason || "cancelled"));
    return true;
  }

  /**
   * Claims an attempt for work an RPC starts (the profiler's StartTrace) and records this
   * process as its owner when the row is new or still started with no other owner. Returns the
   * row as found and whether this process owns it now.
   */
  async claimForWork(job: JobRef, progress?: P & object): Promise<{ view: StageView<EventPayload<S>, P>; owned: boolean }> {
    const { record } = await this.deps.ledger.claim(job.jobId, this.spec.stage, job.attempt);
    const view = viewOf(this.spec, record);
    const owned = view.state === "started" && (view.owner === undefined || view.owner === this.owner);
    if (owned) await this.deps.ledger.update(job.jobId, this.spec.stage, job.attempt, "started", outcomeJson.started(this.owner, progress));
    return { view, owned };
  }

  /** Notes progress of a started attempt this process owns (see claimForWork). */
  async recordProgress(job: JobRef, progress: P & object): Promise<void> {
    await this.deps.ledger.update(job.jobId, this.spec.stage, job.attempt, "started", outcomeJson.started(this.owner, progress));
  }

  /** The typed row of an attempt, or undefined. */
  async get(jobId: string, attempt: number): Promise<StageView<EventPayload<S>, P> | undefined> {
    const record = await this.deps.ledger.get(jobId, this.spec.stage, attempt);
    return record === undefined ? undefined : viewOf(this.spec, record);
  }

  /** The stage's rows of a job, oldest first. */
  async ofJob(jobId: string): Promise<Array<StageView<EventPayload<S>, P>>> {
    return (await this.deps.ledger.listByJob(jobId)).filter((r) => r.stage === this.spec.stage).map((r) => viewOf(this.spec, r));
  }

  /** The stage's rows still "started" (start-up recovery). */
  async started(): Promise<Array<StageView<EventPayload<S>, P>>> {
    return (await this.deps.ledger.listByState("started")).filter((r) => r.stage === this.spec.stage).map((r) => viewOf(this.spec, r));
  }

  private get owner(): string | undefined {
    return this.deps.instanceId;
  }

  /** Re-publishes what an earlier delivery recorded; undefined when the work must go on. */
  private async replay(job: JobRef, view: StageView<EventPayload<S>, P>): Promise<StageRunResult | undefined> {
    const { logger, bus } = this.deps;
    const fields = { job: job.jobId, attempt: job.attempt, state: view.state };
    switch (view.state) {
      case "done":
        // A done row whose event cannot be read: a run-once stage still never runs again.
        if (view.event === undefined) return this.spec.onStarted === "skip" ? "skipped" : undefined;
        await bus.publish(this.spec.done, view.event, eventMsgId(this.spec.done, job.jobId, job.attempt));
        logger.info(`${this.spec.stage}: redelivered event answered with the recorded ${this.spec.done}`, fields);
        return "replayed";
      case "failed":
      case "interrupted":
        if (view.failure !== undefined) await this.publishFailureEvent(bus, job, view.failure);
        return "replayed";
      case "cancelled":
        logger.info(`${this.spec.stage}: event of a cancelled attempt dropped`, fields);
        return "dropped";
      case "started":
        if (this.spec.onStarted === "skip") {
          logger.info(`${this.spec.stage}: event of an attempt already running acknowledged without running it again`, fields);
          return "skipped";
        }
        return undefined;
    }
  }
}
