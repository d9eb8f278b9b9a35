/**
 * Confidence of a verdict as the clamped sum of named factors, every factor on every verdict
 * (the README's "Confidence" section has the table). One pure function per factor; each returns
 * a ConfidenceFactor whose `effect` is what it adds to or takes from the score, and `scoreOf`
 * sums the effects, clamps to [0, SCORE_CAP of the kind] and rounds to 3 places.
 *
 *  - evidence_kind, the base: affected 0.95 for code executed or mapped, 0.90 for a code file
 *    opened (path-only trace), 0.85 for a file only read; not_in_execute_path 0.50;
 *    component_not_present 0.95; under_investigation 0.10 (ecosystem not read), 0.20 (no file
 *    list), 0.30 (anything else that kept it undecided).
 *  - on not_in_execute_path only, the exercise: duration +0.15 × min(1, s / 30); exit status
 *    +0.10 exit 0, +0.05 still running at the timeout; test script +0.05 passed, -0.10 failed;
 *    package coverage +0.15 × min(1, % / 25); routes hit: not measured, 0.
 *  - on not_affected (both justifications): catalogue gaps (a scanned ecosystem not read, a
 *    package partially installed) -0.05.
 *  - trace completeness is a gate, not an effect: without it there is no not_in_execute_path.
 *  - caps: affected 0.95, not_in_execute_path 0.90, component_not_present 0.95, under_investigation 0.30.
 *
 * Why: observed use is evidence whatever else the trace missed, so nothing but its kind weighs
 * on affected; absence of use is only as good as the exercise, so not_in_execute_path is built
 * from the run and capped below affected. The score never changes a status: decide-verdicts.ts
 * decides first (fail closed), and a not_affected verdict stays not_affected however low its
 * score; the score is for the reader to weigh, not a rule.
 */
import { WorkloadOutcome, type ConfidenceFactor, type ExerciseStep } from "@vexxy/proto";
import { factorMessage } from "./messages.js";
import { describeOutcome } from "./trace-quality.js";

/** The kinds of verdict the score distinguishes. */
export type VerdictKind = "affected" | "not_in_execute_path" | "component_not_present" | "under_investigation";

/** Factor names, in the order every verdict lists them. */
export const FACTOR_NAMES = [
  "evidence_kind",
  "trace_completeness",
  "exercise_duration",
  "exit_status",
  "test_script",
  "routes_hit",
  "package_coverage",
  "catalogue_completeness",
] as const;

/** Base of each evidence kind (the evidence_kind factor's effect). */
export const EVIDENCE_BASE = {
  codeExecuted: 0.95,
  codeMapped: 0.95,
  codeFileOpened: 0.9,
  fileRead: 0.85,
  noFileUsed: 0.5,
  packageAbsent: 0.95,
  ecosystemNotRead: 0.1,
  noFileList: 0.2,
  undecided: 0.3,
} as const;

/** Highest score of each kind: absence of evidence stays below evidence. */
export const SCORE_CAP: Readonly<Record<VerdictKind, number>> = {
  affected: 0.95,
  not_in_execute_path: 0.9,
  component_not_present: 0.95,
  under_investigation: 0.3,
};

/** Weights of the exercise factors on not_in_execute_path. */
export const EXERCISE_WEIGHTS = {
  /** Reached at FULL_DURATION_SECONDS. */
  duration: 0.15,
  exitOk: 0.1,
  runningAtTimeout: 0.05,
  scriptPassed: 0.05,
  scriptFailed: -0.1,
  /** Reached at FULL_COVERAGE_PERCENT. */
  coverage: 0.15,
  catalogueGaps: -0.05,
} as const;

const FULL_DURATION_SECONDS = 30;
const FULL_COVERAGE_PERCENT = 25;

/** Kept as constants for callers that name a kind's base directly. */
export const AFFECTED_CODE_CONFIDENCE = EVIDENCE_BASE.codeExecuted;
export const AFFECTED_DATA_CONFIDENCE = EVIDENCE_BASE.fileRead;
export const COMPONENT_NOT_PRESENT_CONFIDENCE = EVIDENCE_BASE.packageAbsent;
export const NOT_IN_EXECUTE_PATH_CAP = SCORE_CAP.not_in_execute_path;
export const UNDER_INVESTIGATION_CONFIDENCE = {
  ecosystemNotRead: EVIDENCE_BASE.ecosystemNotRead,
  noFileList: EVIDENCE_BASE.noFileList,
  undecided: EVIDENCE_BASE.undecided,
} as const;

/** What the verdict rests on, as decide-verdicts.ts found it. */
export type EvidenceMeasure =
  | { readonly kind: "code_executed" | "code_mapped" | "code_file_opened" | "file_read"; readonly files: number }
  | { readonly kind: "no_file_used"; readonly files: number }
  | { readonly kind: "package_absent"; readonly listed: number }
  | { readonly kind: "ecosystem_not_read" | "no_file_list" | "undecided"; readonly why: string };

/** The run as the profile records it. */
export interface RunMeasure {
  readonly complete: boolean;
  readonly lossReasons: readonly string[];
  readonly durationSeconds: number;
  readonly outcome: WorkloadOutcome;
  /** The sandbox's exercise steps; empty in profiles written before they were carried. */
  readonly exercise: readonly ExerciseStep[];
  /** 0..100: catalogued packages with a file used. */
  readonly coveragePercent: number;
}

/** What the catalogue could not describe, image-wide. */
export interface CatalogueMeasure {
  /** Ecosystems of scanned packages whose package database the catalogue did not read. */
  readonly ecosystemsNotRead: readonly string[];
  /** Catalogued packages in a partial dpkg state (half-installed, unpacked, ...). */
  readonly partialPackages: number;
  /** This package's own gap, when it is what kept the verdict under investigation. */
  readonly packageGap?: string;
}

/** Everything the factors are computed from. */
export interface ConfidenceInputs {
  readonly kind: VerdictKind;
  readonly evidence: EvidenceMeasure;
  readonly run: RunMeasure;
  readonly catalogue: CatalogueMeasure;
}

/** A verdict's score and the factors it is the clamped sum of. */
export interface Confidence {
  readonly score: number;
  readonly factors: ConfidenceFactor[];
}

function factor(name: (typeof FACTOR_NAMES)[number], value: string, effect: number, detail: string): ConfidenceFactor {
  return factorMessage({ name, value, effect: round(effect), detail });
}

const ONLY_NOT_IN_EXECUTE_PATH = "weighs only on vulnerable_code_not_in_execute_path, whose claim is only as good as the exercise";

/** evidence_kind: the base of the score. */
export function evidenceFactor(evidence: EvidenceMeasure): ConfidenceFactor {
  switch (evidence.kind) {
    case "code_executed":
      return factor("evidence_kind", "code executed", EVIDENCE_BASE.codeExecuted, `the kernel ran a file of the package (${evidence.files} files used)`);
    case "code_mapped":
      return factor("evidence_kind", "code mapped", EVIDENCE_BASE.codeMapped, `a file of the package was mapped executable (${evidence.files} files used)`);
    case "code_file_opened":
      return factor(
        "evidence_kind",
        "code file opened",
        EVIDENCE_BASE.codeFileOpened,
        `a shared object or executable of the package was opened; a path-only trace does not show it mapped (${evidence.files} files used)`,
      );
    case "file_read":
      return factor(
        "evidence_kind",
        "file read",
        EVIDENCE_BASE.fileRead,
        `only non-code files of the package were opened (configuration, data): used, but its code may not have run (${evidence.files} files)`,
      );
    case "no_file_used":
      return factor("evidence_kind", `none of ${evidence.files} files used`, EVIDENCE_BASE.noFileUsed, "absence of use in a complete trace");
    case "package_absent":
      return factor(
        "evidence_kind",
        "package absent",
        EVIDENCE_BASE.packageAbsent,
        `the package database was read and lists ${evidence.listed} packages, none of this name`,
      );
    case "ecosystem_not_read":
      return factor("evidence_kind", "none: ecosystem not catalogued", EVIDENCE_BASE.ecosystemNotRead, evidence.why);
    case "no_file_list":
      return factor("evidence_kind", "none: no file list", EVIDENCE_BASE.noFileList, evidence.why);
    case "undecided":
      return factor("evidence_kind", "none: use not ruled out", EVIDENCE_BASE.undecided, evidence.why);
  }
}

/** trace_completeness: a gate for not_in_execute_path (decided before scoring), never an effect. */
export function traceFactor(kind: VerdictKind, run: RunMeasure): ConfidenceFactor {
  const complete = run.complete && run.lossReasons.length === 0;
  const value = complete ? "complete" : `incomplete${run.lossReasons.length > 0 ? `: ${run.lossReasons.slice(0, 3).join(", ")}` : ""}`;
  const detail =
    kind === "affected"
      ? "observed use stands whatever else the trace missed"
      : kind === "not_in_execute_path"
        ? "required: an incomplete trace leaves untouched packages under_investigation"
        : kind === "component_not_present"
          ? "the package database, not the run, shows the package absent"
          : "the verdict's own evidence sets the score";
  return factor("trace_completeness", value, 0, detail);
}

/** exercise_duration: a longer run reaches more code paths. */
export function durationFactor(kind: VerdictKind, run: RunMeasure): ConfidenceFactor {
  const seconds = Math.max(0, run.durationSeconds);
  const value = `${seconds.toFixed(1)} s`;
  if (kind !== "not_in_execute_path") return factor("exercise_duration", value, 0, ONLY_NOT_IN_EXECUTE_PATH);
  const effect = EXERCISE_WEIGHTS.duration * Math.min(1, seconds / FULL_DURATION_SECONDS);
  return factor("exercise_duration", value, effect, `${EXERCISE_WEIGHTS.duration} × min(1, seconds / ${FULL_DURATION_SECONDS})`);
}

/** exit_status: a run that ended cleanly (or was still serving) did what it normally does. */
export function exitFactor(kind: VerdictKind, run: RunMeasure): ConfidenceFactor {
  const entrypoint = run.exercise.find((s) => s.name === "entrypoint");
  const value = run.outcome === WorkloadOutcome.EXITED_OK ? "exit 0" : describeOutcome(run.outcome);
  const detail =
    entrypoint !== undefined && entrypoint.detail !== "" ? `entrypoint: ${entrypoint.detail}` : "the workload's outcome as the sandbox reported it";
  if (kind !== "not_in_execute_path") return factor("exit_status", value, 0, `${ONLY_NOT_IN_EXECUTE_PATH}; ${detail}`);
  const effect =
    run.outcome === WorkloadOutcome.EXITED_OK
      ? EXERCISE_WEIGHTS.exitOk
      : run.outcome === WorkloadOutcome.TIMEOUT_RUNNING
        ? EXERCISE_WEIGHTS.runningAtTimeout
        : 0;
  return factor("exit_status", value, effect, detail);
}

/** test_script: the user's own script exercising the workload, and whether it passed. */
export function scriptFactor(kind: VerdictKind, run: RunMeasure): ConfidenceFactor {
  const step = run.exercise.find((s) => s.name === "test_script");
  let value: string;
  let effect = 0;
  let detail: string;
  if (step !== undefined) {
    value = step.ok ? "passed" : "failed";
    effect = step.ok ? EXERCISE_WEIGHTS.scriptPassed : EXERCISE_WEIGHTS.scriptFailed;
    detail = step.detail !== "" ? step.detail : step.ok ? "exit code 0" : "did not pass";
  } else if (run.exercise.length > 0) {
    value = "none";
    detail = "no test script was given: the run exercised only what the entrypoint does by itself";
  } else {
    value = "not recorded";
    detail = "the profile carries no exercise steps (written before they were recorded)";
  }
  if (kind !== "not_in_execute_path") return factor("test_script", value, 0, `${ONLY_NOT_IN_EXECUTE_PATH}; ${detail}`);
  return factor("test_script", value, effect, detail);
}

/** routes_hit: HTTP routes of the declared ports reached; the sandbox does not probe them yet. */
export function routesFactor(): ConfidenceFactor {
  return factor("routes_hit", "not measured", 0, "the sandbox does not probe declared ports and no profile records routes, so route coverage adds nothing");
}

/** package_coverage: the share of catalogued packages the run used at all. */
export function coverageFactor(kind: VerdictKind, run: RunMeasure): ConfidenceFactor {
  const percent = Math.max(0, run.coveragePercent);
  const value = `${round(percent)}% of packages`;
  if (kind !== "not_in_execute_path") return factor("package_coverage", value, 0, ONLY_NOT_IN_EXECUTE_PATH);
  const effect = EXERCISE_WEIGHTS.coverage * Math.min(1, percent / FULL_COVERAGE_PERCENT);
  return factor("package_coverage", value, effect, `${EXERCISE_WEIGHTS.coverage} × min(1, percent / ${FULL_COVERAGE_PERCENT})`);
}

/**
 * catalogue_completeness: the package's own entry (ecosystem read, file list, install state)
 * and the image's gaps; a copy of the code in an uncatalogued ecosystem or a half-installed
 * package would escape the file mapping, so gaps lower a not_affected claim.
 */
export function catalogueFactor(kind: VerdictKind, catalogue: CatalogueMeasure): ConfidenceFactor {
  const gaps: string[] = [];
  if (catalogue.ecosystemsNotRead.length > 0) gaps.push(`ecosystems not catalogued: ${catalogue.ecosystemsNotRead.join(", ")}`);
  if (catalogue.partialPackages > 0) gaps.push(`${catalogue.partialPackages} packages partially installed`);
  if (catalogue.packageGap !== undefined) {
    return factor("catalogue_completeness", `incomplete for this package: ${catalogue.packageGap}`, 0, "the verdict's own evidence sets the score");
  }
  const value = gaps.length === 0 ? "complete" : `gaps: ${gaps.join("; ")}`;
  if (kind === "not_in_execute_path" || kind === "component_not_present") {
    const effect = gaps.length === 0 ? 0 : EXERCISE_WEIGHTS.catalogueGaps;
    return factor(
      "catalogue_completeness",
      value,
      effect,
      gaps.length === 0 ? "every scanned ecosystem read, no package partially installed" : "code outside the catalogued packages could hold a copy of it",
    );
  }
  return factor("catalogue_completeness", value, 0, "weighs only on not_affected");
}

/** The clamped, rounded sum of the factors' effects for a kind of verdict. */
export function scoreOf(kind: VerdictKind, factors: readonly ConfidenceFactor[]): number {
  const sum = factors.reduce((total, f) => total + f.effect, 0);
  return round(Math.min(SCORE_CAP[kind], Math.max(0, sum)));
}

/** Every factor of a verdict, in FACTOR_NAMES order, and the score they make. Never throws. */
export function assessConfidence(inputs: ConfidenceInputs): Confidence {
  const { kind, run } = inputs;
  const factors = [
    evidenceFactor(inputs.evidence),
    traceFactor(kind, run),
    durationFactor(kind, run),
    exitFactor(kind, run),
    scriptFactor(kind, run),
    routesFactor(),
    coverageFactor(kind, run),
    catalogueFactor(kind, inputs.catalogue),
  ];
  return { score: scoreOf(kind, factors), factors };
}

/** What the run's exercise is judged on. */
export interface ExerciseMeasure {
  readonly durationSeconds: number;
  readonly outcome: WorkloadOutcome;
  /** 0..100. */
  readonly coveragePercent: number;
}

/**
 * Confidence of a vulnerable_code_not_in_execute_path verdict of an image without catalogue
 * gaps, when no test script result is known (the table above), rounded to 3 places.
 */
export function notInExecutePathConfidence(measure: ExerciseMeasure, files = 1): number {
  return assessConfidence({
    kind: "not_in_execute_path",
    evidence: { kind: "no_file_used", files },
    run: { complete: true, lossReasons: [], exercise: [], ...measure },
    catalogue: { ecosystemsNotRead: [], partialPackages: 0 },
  }).score;
}

/** Rounds a score to 3 decimal places. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
