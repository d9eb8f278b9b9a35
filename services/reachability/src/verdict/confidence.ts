/**
 * Confidence scores in [0, 1] for each kind of verdict, in one place.
 *
 *   affected, a file executed / loaded as code (executable, ELF interpreter, shared object)  0.95
 *   affected, only non-code files of the package opened (configuration, data)                0.85
 *   not_affected / component_not_present, the package's ecosystem database was read          0.95
 *   not_affected / vulnerable_code_not_in_execute_path                                        see below
 *   under_investigation: ecosystem not read 0.10; no file list 0.20; trace gaps, version
 *     mismatch, possible relative or interpreter use 0.30
 *
 * not_in_execute_path measures how well the run exercised the image (the claim is only as
 * good as the exercise):
 *   0.50
 *   + 0.15 × min(1, duration_seconds / 30)          a longer run reaches more code paths
 *   + 0.10 × outcome (1 exited 0, 0.5 still running at the timeout, 0 otherwise)
 *   + 0.15 × min(1, code_coverage_percent / 25)     share of catalogued packages touched
 * capped at 0.90, below affected: absence of evidence is weaker than evidence.
 */
import { WorkloadOutcome } from "@vexxy/proto";

export const AFFECTED_CODE_CONFIDENCE = 0.95;
export const AFFECTED_DATA_CONFIDENCE = 0.85;
export const COMPONENT_NOT_PRESENT_CONFIDENCE = 0.95;
export const NOT_IN_EXECUTE_PATH_CAP = 0.9;
export const UNDER_INVESTIGATION_CONFIDENCE = {
  ecosystemNotRead: 0.1,
  noFileList: 0.2,
  undecided: 0.3,
} as const;

/** What the run's exercise is judged on. */
export interface ExerciseMeasure {
  readonly durationSeconds: number;
  readonly outcome: WorkloadOutcome;
  /** 0..100. */
  readonly coveragePercent: number;
}

/** Confidence of a vulnerable_code_not_in_execute_path verdict (formula above), rounded to 3 places. */
export function notInExecutePathConfidence(measure: ExerciseMeasure): number {
  const duration = Math.min(1, Math.max(0, measure.durationSeconds) / 30);
  const outcome = measure.outcome === WorkloadOutcome.EXITED_OK ? 1 : measure.outcome === WorkloadOutcome.TIMEOUT_RUNNING ? 0.5 : 0;
  const coverage = Math.min(1, Math.max(0, measure.coveragePercent) / 25);
  const score = 0.5 + 0.15 * duration + 0.1 * outcome + 0.15 * coverage;
  return round(Math.min(NOT_IN_EXECUTE_PATH_CAP, score));
}

/** Rounds a score to 3 decimal places. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
