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
import type { StageLedger, StageRecord } from "@vexxy/ledger";
import type { Logger } from "@vexxy/platform";
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
} from "@vexxy/proto";
import { serializeCatalogue } from "./catalogue/index.js";
import { containerIdFor } from "./driver/container-id.js";
import type { SandboxDriver, SandboxLimits, SandboxWaitResult } from "./driver/sandbox-driver.js";
import { InvalidSandboxSpecError, SandboxRefusedError } from "./driver/driver-errors.js";
import { SandboxStageError, TraceNotAttachedError } from "./errors.js";
import { ImageIntakeError } from "./image/index.js";
import type { LiveAttempts, LiveAttempt } from "./live-attempts.js";
import { SANDBOX_STAGE, catalogueKey, completionOutcome, recordedCompletion, recordedFailure } from "./store/sandbox-attempts.js";
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
  constructor(private readonly deps: SandboxStageDeps) {}

  /**
   * Handles analysis.requested.
   * @throws only when the outcome could not be recorded or published (the event is redelivered
   * and the recorded outcome re-published).
   */
  async onRequested(request: AnalysisRequested): Promise<void> {
    const job = request.job;
    if (job === undefined || job.jobId === "" || job.attempt < 1) {
      this.deps.logger.warn("analysis.requested without job id or attempt dropped", { job: job?.jobId ?? "" });
      return;
    }
    const { ledger, live, logger } = this.deps;
    const { claimed, record } = await ledger.claim(job.jobId, SANDBOX_STAGE, job.attempt);
    if (!claimed) {
      await this.replay(job, record);
      return;
    }
    for (const older of live.ofJob(job.jobId).filter((l) => l.attempt < job.attempt)) {
      await this.cancelLive(older, `superseded by attempt ${job.attempt}`);
    }
    const containerId = containerIdFor(job.jobId, job.attempt);
    const attempt = live.add(job.jobId, job.attempt, containerId);
    await ledger.update(job.jobId, SANDBOX_STAGE, job.attempt, "started", {
      phase: "preparing",
      containerId,
      driver: this.deps.driver.name,
      instanceId: this.deps.instanceId,
    });
    logger.info("sandbox attempt claimed", { job: job.jobId, attempt: job.attempt, container: containerId });
    try {
      await this.run(job, request, attempt);
    } catch (error) {
      if (attempt.cancelled) {
        logger.info("sandbox attempt cancelled", { job: job.jobId, attempt: job.attempt, reason: attempt.cancelReason });
        return;
      }
      const failure = asFailure(error);
      // Torn down before the failure is published: a consumer of sandbox.failed may rely on it.
      await this.deps.driver
        .destroy(containerId)
        .catch((cause: unknown) => logger.error("sandbox destroy failed", { container: containerId, error: String(cause) }));
      logger.warn("sandbox attempt failed", {
        job: job.jobId,
        attempt: job.attempt,
        reason: failure.reason,
        message: failure.message,
        error: error instanceof Error ? error : String(error),
      });
      await this.fail(job, failure.reason, failure.message, failure.retryable, containerId);
    } finally {
      await this.deps.driver
        .destroy(containerId)
        .catch((error: unknown) => logger.error("sandbox destroy failed", { container: containerId, error: String(error) }));
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
    if (job.attempt >= 1 && !lives.some((l) => l.attempt === job.attempt)) {
      const { claimed } = await this.deps.ledger.claim(job.jobId, SANDBOX_STAGE, job.attempt);
      if (claimed) await this.deps.ledger.update(job.jobId, SANDBOX_STAGE, job.attempt, "cancelled", { reason: "cancelled", message: reason });
    }
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
    const started = (await this.deps.ledger.listByState("started")).filter((r) => r.stage === SANDBOX_STAGE);
    const rows = [];
    for (const row of started) {
      if (this.deps.live.get(row.jobId, row.attempt) !== undefined) continue;
      const owner = row.outcome["instanceId"];
      if (owner === undefined && Date.now() - row.updatedAt.getTime() < ownerlessGraceMs) continue;
      if (await ownerGone(this.deps.bus, owner)) rows.push(row);
    }
    for (const row of rows) {
      const containerId = typeof row.outcome["containerId"] === "string" ? row.outcome["containerId"] : containerIdFor(row.jobId, row.attempt);
      await this.deps.driver
        .destroy(containerId)
        .catch((error: unknown) => this.deps.logger.error("destroy of an interrupted sandbox failed", { container: containerId, error: String(error) }));
      const message = `the sandbox service stopped while attempt ${row.attempt} was ${row.outcome["phase"] === "running" ? "running" : "being prepared"}; its container was removed`;
      await this.deps.ledger.update(row.jobId, SANDBOX_STAGE, row.attempt, "interrupted", { ...row.outcome, reason: "interrupted", message, retryable: true });
      await this.publishFailed(create(JobRefSchema, { jobId: row.jobId, attempt: row.attempt }), "interrupted", message, true);
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

  private async run(job: JobRef, request: AnalysisRequested, attempt: LiveAttempt): Promise<void> {
    const { driver, bus, ledger, settings } = this.deps;
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
    await ledger.update(job.jobId, SANDBOX_STAGE, job.attempt, "started", {
      phase: "running",
      containerId: handle.containerId,
      driver: driver.name,
      catalogue: stored.key,
      instanceId: this.deps.instanceId,
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
    await ledger.update(job.jobId, SANDBOX_STAGE, job.attempt, "done", completionOutcome(completed, driver.name));
    await bus.publish(Subjects.sandboxCompleted, completed, eventMsgId(Subjects.sandboxCompleted, job.jobId, job.attempt));
    this.deps.logger.info("sandbox attempt completed", {
      job: job.jobId,
      attempt: job.attempt,
      outcome: WorkloadOutcome[result.outcome],
      exitCode: result.exitCode,
      seconds: result.durationSeconds,
    });
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

  private async replay(job: JobRef, record: StageRecord): Promise<void> {
    switch (record.state) {
      case "done": {
        const completed = recordedCompletion(record);
        if (completed !== undefined)
          await this.deps.bus.publish(Subjects.sandboxCompleted, completed, eventMsgId(Subjects.sandboxCompleted, job.jobId, job.attempt));
        return;
      }
      case "failed":
      case "interrupted": {
        const failure = recordedFailure(record);
        await this.publishFailed(job, failure.reason, failure.message, failure.retryable);
        return;
      }
      default:
        // "started": this attempt runs now (here or in another replica); "cancelled": dropped.
        this.deps.logger.info("analysis.requested of a claimed attempt acknowledged without running", {
          job: job.jobId,
          attempt: job.attempt,
          state: record.state,
        });
    }
  }

  private async cancelLive(attempt: LiveAttempt, reason: string): Promise<void> {
    attempt.cancelled = true;
    attempt.cancelReason = reason;
    attempt.abort.abort(new Error(`cancelled: ${reason}`));
    await this.deps.ledger.update(attempt.jobId, SANDBOX_STAGE, attempt.attempt, "cancelled", {
      containerId: attempt.containerId,
      driver: this.deps.driver.name,
      reason: "cancelled",
      message: reason,
    });
    await this.deps.driver.kill(attempt.containerId).catch(() => undefined);
    await this.deps.driver
      .destroy(attempt.containerId)
      .catch((error: unknown) => this.deps.logger.error("destroy of a cancelled sandbox failed", { container: attempt.containerId, error: String(error) }));
    this.deps.logger.info("sandbox attempt torn down", { job: attempt.jobId, attempt: attempt.attempt, reason });
  }

  private checkCancelled(attempt: LiveAttempt): void {
    if (attempt.cancelled) throw new SandboxStageError("cancelled", attempt.cancelReason, false);
  }

  private async fail(job: JobRef, reason: string, message: string, retryable: boolean, containerId: string): Promise<void> {
    await this.deps.ledger.update(job.jobId, SANDBOX_STAGE, job.attempt, "failed", { containerId, driver: this.deps.driver.name, reason, message, retryable });
    await this.publishFailed(job, reason, message, retryable);
  }

  private async publishFailed(job: JobRef, reason: string, message: string, retryable: boolean): Promise<void> {
    await this.deps.bus.publish(
      Subjects.sandboxFailed,
      create(SandboxFailedSchema, { job, reason, message, retryable }),
      eventMsgId(Subjects.sandboxFailed, job.jobId, job.attempt),
    );
  }
}

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
