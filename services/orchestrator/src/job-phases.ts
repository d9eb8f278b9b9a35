/**
 * The job state machine as data: which event moves a job to which status, phase and progress
 * (the seeds' phases: setting up sandbox 10, starting container 30, exercising 50, collecting
 * profile 70, reachability 85, generating VEX 95, complete 100), and which states are final.
 */
import { Subjects, type Subject } from "@vexxy/events";
import type { JobStatus } from "./store/entities.js";

export interface PhaseStep {
  readonly status: JobStatus;
  readonly phase: string;
  readonly progress: number;
}

export const QUEUED_STEP: PhaseStep = Object.freeze({ status: "QUEUED", phase: "queued", progress: 0 });
export const DISPATCHED_STEP: PhaseStep = Object.freeze({ status: "QUEUED", phase: "setting_up_sandbox", progress: 10 });
/** Where a job ends that has nothing to decide (a scan with no findings): complete at submit. */
export const NO_FINDINGS_STEP: PhaseStep = Object.freeze({ status: "COMPLETE", phase: "complete", progress: 100 });

/** Where each progress event takes the job. Events not listed here do not advance it. */
export const STEP_BY_SUBJECT: Readonly<Partial<Record<Subject, PhaseStep>>> = Object.freeze({
  [Subjects.sandboxStarted]: { status: "RUNNING", phase: "exercising", progress: 50 },
  [Subjects.sandboxCompleted]: { status: "ANALYZING", phase: "collecting_profile", progress: 70 },
  [Subjects.profileReady]: { status: "ANALYZING", phase: "reachability", progress: 85 },
  [Subjects.reachabilityScored]: { status: "ANALYZING", phase: "generating_vex", progress: 95 },
  [Subjects.vexSigned]: { status: "COMPLETE", phase: "complete", progress: 100 },
});

/** The stage whose event the job waits for in each phase (named in re-drive and failure messages). */
export const STAGE_AWAITED_IN_PHASE: Readonly<Record<string, string>> = Object.freeze({
  queued: "sandbox",
  setting_up_sandbox: "sandbox",
  exercising: "sandbox",
  collecting_profile: "profiler",
  reachability: "reachability",
  generating_vex: "vex",
});

const FINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(["COMPLETE", "FAILED", "CANCELLED"]);

/** Whether a job in this status can still change. */
export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

/** Whether moving to `next` goes forward (progress never goes back within one attempt). */
export function advances(currentProgress: number, next: PhaseStep): boolean {
  return next.progress > currentProgress;
}
