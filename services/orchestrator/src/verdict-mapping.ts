/**
 * Maps the mesh's verdict and profile messages to the public API's shapes (the seeds'
 * reachability_results and execution_profile), and to plain JSON for the job row.
 */
import { create } from "@bufbuild/protobuf";
import {
  ExecutionProfileSummarySchema as ApiExecutionProfileSchema,
  ReachabilityResultSchema,
  ResultConfidenceFactorSchema,
  VexJustification,
  VexStatus,
  WorkloadOutcome,
  type ExecutionProfileSummary as ApiExecutionProfile,
  type ProfileSummary,
  type ReachabilityResult,
  type Verdict,
} from "@vexxy/proto";

const STATUS_NAMES: Readonly<Record<VexStatus, string>> = {
  [VexStatus.UNSPECIFIED]: "under_investigation",
  [VexStatus.NOT_AFFECTED]: "not_affected",
  [VexStatus.AFFECTED]: "affected",
  [VexStatus.FIXED]: "fixed",
  [VexStatus.UNDER_INVESTIGATION]: "under_investigation",
};

const JUSTIFICATION_NAMES: Readonly<Record<VexJustification, string>> = {
  [VexJustification.UNSPECIFIED]: "",
  [VexJustification.COMPONENT_NOT_PRESENT]: "component_not_present",
  [VexJustification.VULNERABLE_CODE_NOT_PRESENT]: "vulnerable_code_not_present",
  [VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH]: "vulnerable_code_not_in_execute_path",
  [VexJustification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY]: "vulnerable_code_cannot_be_controlled_by_adversary",
  [VexJustification.INLINE_MITIGATIONS_ALREADY_EXIST]: "inline_mitigations_already_exist",
};

/** OpenVEX status name of a verdict status. */
export function statusName(status: VexStatus): string {
  return STATUS_NAMES[status];
}

/** OpenVEX justification name ("" when none). */
export function justificationName(justification: VexJustification): string {
  return JUSTIFICATION_NAMES[justification];
}

/** A stored, JSON-safe result row (what the job row keeps). */
export interface StoredResult {
  readonly cveId: string;
  readonly status: string;
  readonly justification: string;
  readonly confidenceScore: number;
  readonly reason: string;
  readonly packageName: string;
  readonly packageVersion: string;
  readonly packagePurl: string;
  readonly evidence: readonly string[];
  /** The named factors of confidenceScore (absent in rows stored before they existed). */
  readonly confidenceFactors?: readonly StoredFactor[];
}

/** One confidence factor, JSON-safe. */
export interface StoredFactor {
  readonly name: string;
  readonly value: string;
  readonly effect: number;
  readonly detail: string;
}

/** Turns verdicts into stored rows. */
export function toStoredResults(verdicts: readonly Verdict[]): StoredResult[] {
  return verdicts.map((v) => ({
    cveId: v.vulnerabilityId,
    status: statusName(v.status),
    justification: justificationName(v.justification),
    confidenceScore: v.confidence,
    reason: v.reason,
    packageName: v.packageName,
    packageVersion: v.packageVersion,
    packagePurl: v.packagePurl,
    evidence: v.evidence.map((e) => (e.path !== "" ? `${e.kind}: ${e.path}${e.detail !== "" ? ` (${e.detail})` : ""}` : `${e.kind}: ${e.detail}`)),
    confidenceFactors: v.factors.map((f) => ({ name: f.name, value: f.value, effect: f.effect, detail: f.detail })),
  }));
}

/** Stored rows to API messages. */
export function toApiResults(rows: readonly Record<string, unknown>[]): ReachabilityResult[] {
  return rows.map((row) => {
    const r = row as unknown as StoredResult;
    return create(ReachabilityResultSchema, {
      cveId: r.cveId,
      status: r.status,
      justification: r.justification,
      confidenceScore: r.confidenceScore,
      reason: r.reason,
      packageName: r.packageName,
      packageVersion: r.packageVersion,
      packagePurl: r.packagePurl,
      evidence: [...r.evidence],
      confidenceFactors: (r.confidenceFactors ?? []).map((f) => create(ResultConfidenceFactorSchema, f)),
    });
  });
}

/** A stored, JSON-safe execution profile summary. */
export interface StoredProfile {
  readonly durationSeconds: number;
  readonly filesAccessed: number;
  readonly executablesRun: number;
  readonly sharedLibrariesLoaded: number;
  readonly syscalls: number;
  readonly codeCoveragePercent: number;
  readonly traceComplete: boolean;
  readonly lossReasons: readonly string[];
  readonly workloadOutcome: string;
  /** Code that ran and no package owns (absent in rows stored before it existed). */
  readonly unownedCode?: readonly string[];
  /** Attempts at channels the tracer cannot follow, "name: N ok, M failed". */
  readonly untracedChannelAttempts?: readonly string[];
}

const OUTCOME_NAMES: Readonly<Record<WorkloadOutcome, string>> = {
  [WorkloadOutcome.UNSPECIFIED]: "unknown",
  [WorkloadOutcome.EXITED_OK]: "exited_ok",
  [WorkloadOutcome.EXITED_ERROR]: "exited_error",
  [WorkloadOutcome.TIMEOUT_RUNNING]: "timeout_running",
  [WorkloadOutcome.LIMIT_KILLED]: "limit_killed",
};

/** Turns the profile summary into its stored form. */
export function toStoredProfile(p: ProfileSummary | undefined): StoredProfile {
  return {
    durationSeconds: p?.durationSeconds ?? 0,
    filesAccessed: p?.filesAccessed ?? 0,
    executablesRun: p?.executablesRun ?? 0,
    sharedLibrariesLoaded: p?.sharedLibrariesLoaded ?? 0,
    syscalls: Number(p?.eventsTraced ?? 0n),
    codeCoveragePercent: p?.codeCoveragePercent ?? 0,
    traceComplete: p?.complete ?? false,
    lossReasons: [...(p?.lossReasons ?? [])],
    workloadOutcome: OUTCOME_NAMES[p?.outcome ?? WorkloadOutcome.UNSPECIFIED],
    unownedCode: [...(p?.unownedCode ?? [])],
    untracedChannelAttempts: [...(p?.untracedChannelAttempts ?? [])],
  };
}

/** Stored profile to the API message. */
export function toApiProfile(row: Record<string, unknown> | null): ApiExecutionProfile {
  const p = (row ?? toStoredProfile(undefined)) as unknown as StoredProfile;
  return create(ApiExecutionProfileSchema, {
    durationSeconds: p.durationSeconds,
    filesAccessed: p.filesAccessed,
    executablesRun: p.executablesRun,
    sharedLibrariesLoaded: p.sharedLibrariesLoaded,
    syscalls: BigInt(p.syscalls),
    codeCoveragePercent: p.codeCoveragePercent,
    traceComplete: p.traceComplete,
    lossReasons: [...p.lossReasons],
    workloadOutcome: p.workloadOutcome,
    unownedCode: [...(p.unownedCode ?? [])],
    untracedChannelAttempts: [...(p.untracedChannelAttempts ?? [])],
  });
}
