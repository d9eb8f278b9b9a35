/**
 * @vexxy/scan-report: reading a customer's vulnerability report (Grype JSON, Trivy JSON) into
 * format-neutral findings. Shared by the orchestrator, which refuses a report it cannot read at
 * SubmitAnalysis (before any job exists), and reachability, which scores the findings; both read
 * the same bytes with the same rules, so a report accepted at submit is one reachability reads.
 */
export { parseVulnerabilityReport, SCAN_PARSERS } from "./parse-vulnerability-report.js";
export type { ScanFinding, ScanFormat, ScanPackage, ScanParser, VulnerabilityReport } from "./scan-report.js";
export { ScanFormatError } from "./errors.js";
