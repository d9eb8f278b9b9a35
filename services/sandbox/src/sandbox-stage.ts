/**
 * The sandbox stage: one job attempt from image to torn-down container, and its cancellation.
 *
 * run: the driver creates the sandbox from the job's image reference (image intake with the
 * digest checked, the catalogue, the container: all behind SandboxDriver, so no host path is
 * seen here), the catalogue is stored at jobs/<job>/attempts/<n>/catalogue.json, the profiler
 * attaches to the driver's trace scope (StartTrace, bounded by the attach deadline; without an
 * answer the sandbox is destroyed and the workload never runs), sandbox.started is published,
 * the workload started, the test script run with the driver's exec when the job has one, the
 * run waited on with the job's timeout, the sandbox destroyed, and sandbox.completed published.
 * Image problems end in sandbox.failed {retryable false} naming the field; anything else in
 * sandbox.failed {retryable true}. A cancel aborts the driver's create (intake stops early).
 * Whatever happens, destroy removes the container and the image taken in for it.
 *
 * Replicas: the ledger row records this process's instance id right after the claim, and
 * sandbox.started/completed name this process and the profiler replica that holds the trace
 * (from StartTrace), which alone can finish it. A cancel reaches the process running the
 * attempt through its fan-out consumer; start-up recovery takes over only rows whose owner is
 * gone (no presence answer), never those of a live replica.
 */
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { BlobStore } from "@vexxy/blobstore";
import { Subjects, eventMsgId, ownerGone, type EventBus } from "@vexxy/events";
import type { StageLedger } from "@vexxy/ledger";
import type { Logger } from "@vexxy/platform";
import { StageCancelled, StageFailure, StageLifecycle, type FailurePublisher, type StageContext } from "@vexxy/stage";
import {
  BlobRefSchema,
  ExerciseStepSchema,
  JobRefSchema,
  SandboxCompletedSchema,
  SandboxFailedSchema,
  SandboxStartedSchema,
  WorkloadOutcome,
  type AnalysisRequested,
  type BlobRef,
  type ExerciseStep,
  type JobRef,
  type SandboxCompleted,
} from "@vexxy/proto";
import { serializeCatalogue } from "./catalogue/index.js";
import { containerIdFor } from "./driver/container-id.js";
import type { SandboxDriver, SandboxLimits, SandboxWaitResult } from "./driver/sandbox-driver.js";
import { InvalidSandboxSpecError, SandboxRefusedError } from "./driver/driver-errors.js";
import { SandboxStageError, TraceNotAttachedError } from "./errors.js";
import { ImageIntakeError } from "./image/index.js";
import type { LiveAttempts, LiveAttempt } from "./live-attempts.js";
import { SANDBOX_RECORD_FORMAT, SANDBOX_STAGE, catalogueKey, type SandboxProgress } from "./store/sandbox-attempts.js";
import type { AttachedTrace, TraceAttacher } from "./trace-attacher.js";

/** What the stage needs. */
export interface SandboxStageDeps {
  readonly bus: EventBus;
  readonly blobs: BlobStore;
  readonly ledger: StageLedger;
  readonly driver: SandboxDriver;
  readonly tracer: TraceAttacher;
  readonly logger: Logger;
  readonly live: LiveAttempts;
  /** This process's instance id (random per process). */
  readonly instanceId: string;
  readonly settings: {
    readonly traceAttachTimeoutMs: number;
    readonly limits: SandboxLimits;
  };
}

const DEFAULT_TIMEOUT_SECONDS = 300;
/** How often a sandbox looks for attempts of replicas that are gone (see startRecoverySweep). */
export const RECOVERY_SWEEP_INTERVAL_MS = 10_000;
const OWNERLESS_GRACE_MS = 60_000;
const MAX_TIMEOUT_SECONDS = 900;

/** The stage. One per process. */
export class SandboxStage {
  /** The shared lifecycle; "skip": an attempt is never run twice, even after a crash. */
  private readonly lifecycle: StageLifecycle<typeof Subjects.sandboxCompleted, SandboxProgress>;

  constructor(private readonly deps: SandboxStageDeps) {
    this.lifecycle = new StageLifecycle({ ...SANDBOX_RECORD_FORMAT, stage: SANDBOX_STAGE, onStarted: "skip", publishFailure: publishSandboxFailed }, deps);
  }

  /**
   * Handles analysis.requested.
   * @throws only when the outcome could not be recorded or published (the event is redelivered
   * and the recorded outcome re-published).
   */
  async onRequested(request: AnalysisRequested): Promise<void> {
    await this.lifecycle.run(request.job, (context) => this.attempt(context, request));
  }

  /**
   * The work of one claimed attempt: older attempts of the job here are superseded, the attempt
   * runs, and whatever happens its container is gone before the lifecycle records and publishes
   * the outcome (a consumer of sandbox.failed may rely on it).
   * @throws StageCancelled when the attempt was cancelled meanwhile; StageFailure otherwise.
   */
  private async attempt(context: StageContext<SandboxProgress>, request: AnalysisRequested): Promise<SandboxCompleted> {
    const { live, logger, driver } = this.deps;
    const job = context.job;
    for (const older of live.ofJob(job.jobId).filter((l) => l.attempt < job.attempt)) {
      await this.cancelLive(older, `superseded by attempt ${job.attempt}`);
    }
    const containerId = containerIdFor(job.jobId, job.attempt);
    const attempt = live.add(job.jobId, job.attempt, containerId);
    try {
      await context.recordProgress({ phase: "preparing", containerId, driver: driver.name });
      logger.info("sandbox attempt claimed", { job: job.jobId, attempt: job.attempt, container: containerId });
      return await this.run(context, request, attempt);
    } catch (error) {
      if (attempt.cancelled) throw new StageCancelled(attempt.cancelReason);
      const failure = asFailure(error);
      logger.warn("sandbox attempt failed", {
        job: job.jobId,
        attempt: job.attempt,
        reason: failure.reason,
        error: error instanceof Error ? error : String(error),
      });
      throw new StageFailure(failure.reason, failure.message, failure.retryable, { cause: error });
    } finally {
      await driver.destroy(containerId).catch((error: unknown) => logger.error("sandbox destroy failed", { container: containerId, error: String(error) }));
      live.remove(attempt);
    }
  }

  /**
   * Handles analysis.cancelled: tears down the job's live attempts and marks them cancelled; an
   * attempt not yet seen is recorded cancelled so a later analysis.requested of it is dropped.
   */
  async onCancelled(job: JobRef, reason: string): Promise<boolean> {
    const lives = this.deps.live.ofJob(job.jobId);
    for (const attempt of lives) await this.cancelLive(attempt, reason);
    if (job.attempt >= 1 && !lives.some((l) => l.attempt === job.attempt)) await this.lifecycle.cancelUnclaimed(job, reason);
    return lives.length > 0;
  }

  /**
   * Start-up: a row still "started" whose owner is gone (no presence answer, or no owner
   * recorded) belongs to a process that died mid-run. Its container is destroyed, the row marked
   * interrupted and sandbox.failed {interrupted, retryable} published; the orchestrator re-drives
   * the job with a new attempt. Rows of live replicas are left alone, and so are rows with no
   * owner yet that changed within ownerlessGraceMs (a replica records itself right after its
   * claim; the sweep must not take such a row in between). Returns how many it took over.
   */
  async recoverInterrupted(ownerlessGraceMs = 0): Promise<number> {
    const rows = [];
    for (const row of await this.lifecycle.started()) {
      if (this.deps.live.get(row.jobId, row.attempt) !== undefined) continue;
      if (row.owner === undefined && Date.now() - row.updatedAt.getTime() < ownerlessGraceMs) continue;
      if (await ownerGone(this.deps.bus, row.owner)) rows.push(row);
    }
    for (const row of rows) {
      const containerId = row.progress?.containerId ?? containerIdFor(row.jobId, row.attempt);
      await this.deps.driver
        .destroy(containerId)
        .catch((error: unknown) => this.deps.logger.error("destroy of an interrupted sandbox failed", { container: containerId, error: String(error) }));
      const message = `the sandbox service stopped while attempt ${row.attempt} was ${row.progress?.phase === "running" ? "running" : "being prepared"}; its container was removed`;
      const failure = new StageFailure("interrupted", message, true, { interrupted: true });
      await this.lifecycle.fail(create(JobRefSchema, { jobId: row.jobId, attempt: row.attempt }), failure, "interrupted", row.progress);
      this.deps.logger.warn("interrupted sandbox attempt recovered", { job: row.jobId, attempt: row.attempt, container: containerId });
    }
    return rows.length;
  }

  /**
   * Runs recoverInterrupted every intervalMs until stopped, so the attempts of a replica that
   * died and never comes back (scaled down, node lost) are handed back without waiting for a
   * restart. Failures are logged; a pass never overlaps another.
   */
  startRecoverySweep(intervalMs: number): { stop(): Promise<void> } {
    let stopped = false;
    let pass: Promise<void> = Promise.resolve();
    const tick = (): void => {
      pass = this.recoverInterrupted(OWNERLESS_GRACE_MS)
        .then((n) => {
          if (n > 0) this.deps.logger.warn("attempts of a gone replica recovered", { count: n });
        })
        .catch((error: unknown) => this.deps.logger.error("recovery sweep failed", { error: String(error) }))
        .finally(() => {
          if (!stopped) timer = setTimeout(tick, intervalMs);
        });
    };
    let timer = setTimeout(tick, intervalMs);
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await pass;
      },
    };
  }

  private async run(context: StageContext<SandboxProgress>, request: AnalysisRequested, attempt: LiveAttempt): Promise<SandboxCompleted> {
    const { driver, bus, settings } = this.deps;
    const job = context.job;
    const handle = await driver.create(
      {
        containerId: attempt.containerId,
        image: { ref: job.imageRef, expectedDigest: job.imageDigest },
        environment: request.config?.environment ?? {},
        limits: settings.limits,
      },
      attempt.abort.signal,
    );
    attempt.created = true;
    this.checkCancelled(attempt);
    const stored = await this.deps.blobs.put(catalogueKey(job.jobId, job.attempt), Buffer.from(serializeCatalogue(handle.catalogue), "utf8"), {
      contentType: "application/json",
    });
    const catalogueRef: BlobRef = create(BlobRefSchema, { key: stored.key, sha256: stored.sha256, size: BigInt(stored.size) });
    this.checkCancelled(attempt);
    let trace: AttachedTrace;
    try {
      trace = await this.deps.tracer.startTrace(
        { jobId: job.jobId, attempt: job.attempt, containerId: handle.containerId, scope: handle.traceScope },
        settings.traceAttachTimeoutMs,
      );
    } catch (error) {
      throw new TraceNotAttachedError(error instanceof Error ? error.message : String(error), { cause: error });
    }
    this.checkCancelled(attempt);
    await bus.publish(
      Subjects.sandboxStarted,
      create(SandboxStartedSchema, {
        job,
        containerId: handle.containerId,
        // The event's cgroup fields describe a host-cgroup sandbox; other scopes leave them empty.
        cgroupPath: handle.traceScope.kind === "host_cgroup" ? handle.traceScope.cgroupV2Path : "",
        cgroupId: trace.cgroupId,
        catalogue: catalogueRef,
        startedAt: timestampNow(),
        driver: driver.name,
        sandboxInstanceId: this.deps.instanceId,
        profilerInstanceId: trace.profilerInstanceId,
      }),
      eventMsgId(Subjects.sandboxStarted, job.jobId, job.attempt),
    );
    await context.recordProgress({
      phase: "running",
      containerId: handle.containerId,
      driver: driver.name,
      catalogue: stored.key,
      profilerInstanceId: trace.profilerInstanceId,
    });
    await driver.start(handle.containerId);

    const timeoutMs = timeoutSecondsOf(request) * 1000;
    const script = request.config?.testScript ?? "";
    const scriptStep = script.trim() !== "" ? this.runTestScript(handle.containerId, script, timeoutMs) : undefined;
    const result = await driver.wait(handle.containerId, timeoutMs);
    const steps: ExerciseStep[] = [entrypointStep(result)];
    if (scriptStep !== undefined) steps.push(await scriptStep);
    this.checkCancelled(attempt);
    // The container and the customer's unpacked image are gone before anyone hears the run ended.
    await driver.destroy(handle.containerId);

    const completed = create(SandboxCompletedSchema, {
      job,
      containerId: handle.containerId,
      outcome: result.outcome,
      exitCode: result.exitCode,
      durationSeconds: result.durationSeconds,
      catalogue: catalogueRef,
      completedAt: timestampNow(),
      exercise: steps,
      sandboxInstanceId: this.deps.instanceId,
      profilerInstanceId: trace.profilerInstanceId,
    });
    this.checkCancelled(attempt);
    this.deps.logger.info("sandbox attempt completed", {
      job: job.jobId,
      attempt: job.attempt,
      outcome: WorkloadOutcome[result.outcome],
      exitCode: result.exitCode,
      seconds: result.durationSeconds,
    });
    return completed;
  }

  private async runTestScript(containerId: string, script: string, timeoutMs: number): Promise<ExerciseStep> {
    const driver = this.deps.driver;
    if (driver.exec === undefined)
      return create(ExerciseStepSchema, { name: "test_script", ok: false, detail: `the ${driver.name} driver cannot run a test script` });
    try {
      const result = await driver.exec(containerId, ["/bin/sh", "-c", script], timeoutMs);
      const detail = result.timedOut
        ? "timed out"
        : `exit code ${result.exitCode}${result.stderr.trim() !== "" ? `: ${result.stderr.trim().slice(-300)}` : ""}`;
      return create(ExerciseStepSchema, { name: "test_script", ok: !result.timedOut && result.exitCode === 0, detail });
    } catch (error) {
      return create(ExerciseStepSchema, {
        name: "test_script",
        ok: false,
        detail: `could not run: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500),
      });
    }
  }

  private async cancelLive(attempt: LiveAttempt, reason: string): Promise<void> {
    attempt.cancelled = true;
    attempt.cancelReason = reason;
    attempt.abort.abort(new Error(`cancelled: ${reason}`));
    await this.lifecycle.cancel(create(JobRefSchema, { jobId: attempt.jobId, attempt: attempt.attempt }), reason, {
      phase: attempt.created ? "running" : "preparing",
      containerId: attempt.containerId,
      driver: this.deps.driver.name,
    } satisfies SandboxProgress);
    await this.deps.driver.kill(attempt.containerId).catch(() => undefined);
    await this.deps.driver
      .destroy(attempt.containerId)
      .catch((error: unknown) => this.deps.logger.error("destroy of a cancelled sandbox failed", { container: attempt.containerId, error: String(error) }));
    this.deps.logger.info("sandbox attempt torn down", { job: attempt.jobId, attempt: attempt.attempt, reason });
  }

  private checkCancelled(attempt: LiveAttempt): void {
    if (attempt.cancelled) throw new SandboxStageError("cancelled", attempt.cancelReason, false);
  }
}

/** The sandbox's failure event: sandbox.failed {reason, message, retryable}. */
const publishSandboxFailed: FailurePublisher = async (bus: EventBus, job: JobRef, failure: StageFailure) => {
  await bus.publish(
    Subjects.sandboxFailed,
    create(SandboxFailedSchema, { job, reason: failure.reason, message: failure.message, retryable: failure.retryable }),
    eventMsgId(Subjects.sandboxFailed, job.jobId, job.attempt),
  );
};

/** The job's timeout, clamped to the product's 900 s maximum (300 s when unset). */
function timeoutSecondsOf(request: AnalysisRequested): number {
  const asked = request.config?.testTimeoutSeconds ?? 0;
  return asked > 0 ? Math.min(asked, MAX_TIMEOUT_SECONDS) : DEFAULT_TIMEOUT_SECONDS;
}

function entrypointStep(result: SandboxWaitResult): ExerciseStep {
  const ok = result.outcome === WorkloadOutcome.EXITED_OK || result.outcome === WorkloadOutcome.TIMEOUT_RUNNING;
  const truncated =
    result.outputTruncated === true
      ? `output truncated (stdout ${result.stdoutBytes ?? 0} B, stderr ${result.stderrBytes ?? 0} B written; the driver keeps a bounded head and tail)`
      : "";
  const limits = [result.oomKilled ? "killed by the memory limit" : "", result.pidsLimitHit ? "the pids limit refused a fork" : "", truncated].filter(
    (s) => s !== "",
  );
  const detail = [`${WorkloadOutcome[result.outcome]}, exit code ${result.exitCode}`, ...limits].join("; ");
  return create(ExerciseStepSchema, { name: "entrypoint", ok, detail });
}

/**
 * How a failed attempt is reported: reason, message and whether a retry could help (only
 * infrastructure faults are retryable; what the image or the runtime's refusal of it caused is
 * final). Never throws.
 */
export function asFailure(error: unknown): { reason: string; message: string; retryable: boolean } {
  if (error instanceof SandboxStageError) return { reason: error.reason, message: error.message, retryable: error.retryable };
  if (error instanceof ImageIntakeError) return { reason: error.reason, message: error.message, retryable: false };
  // The runtime refused what the image holds (its cwd, entrypoint, config): the same image gets
  // the same answer, so the failure is final. Only infrastructure faults below are retried.
  if (error instanceof InvalidSandboxSpecError || error instanceof SandboxRefusedError) {
    return { reason: "image_not_runnable", message: error.message.slice(0, 1000), retryable: false };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { reason: "sandbox_error", message: message.slice(0, 1000), retryable: true };
}
