/**
 * @vexxy/reachability: the reachability engine (scan parsing, verdicts, profile summary) and
 * the service that runs it on vexxy.profile.ready.
 */
export { parseVulnerabilityReport, SCAN_PARSERS } from "@vexxy/scan-report";
export type { ScanFinding, ScanFormat, ScanPackage, ScanParser, VulnerabilityReport } from "@vexxy/scan-report";
export { scoreReachability, type ReachabilityInputs, type ReachabilityResult } from "./verdict/decide-verdicts.js";
export { buildProfileSummary, coveragePercent } from "./verdict/profile-summary.js";
export { analyseReach, type ReachAnalysis, type Touch } from "./verdict/reach-analysis.js";
export { assessTrace, type TraceAssessment } from "./verdict/trace-quality.js";
export { ImagePathResolver, normaliseAbsolute } from "./verdict/image-paths.js";
export {
  AFFECTED_CODE_CONFIDENCE,
  AFFECTED_DATA_CONFIDENCE,
  COMPONENT_NOT_PRESENT_CONFIDENCE,
  NOT_IN_EXECUTE_PATH_CAP,
  UNDER_INVESTIGATION_CONFIDENCE,
  notInExecutePathConfidence,
} from "./verdict/confidence.js";
export { decodeCatalogue, decodeProfile, tightenProfile } from "./artifacts.js";
export { ArtifactDecodeError, ScanFormatError, VerdictsNotFoundError } from "./errors.js";
export { readReachabilityConfig, type ReachabilityConfig } from "./config.js";
export { startReachabilityService, type ReachabilityOverrides, type RunningReachability } from "./service.js";
export { REACHABILITY_STAGE, VerdictStore, verdictsKey } from "./store/verdict-store.js";
