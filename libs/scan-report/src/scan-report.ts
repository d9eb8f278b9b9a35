/**
 * The format-neutral vulnerability report every scan parser produces: one finding per
 * (vulnerability, package) row of the scan, with the package named exactly as the scan named it.
 */

/** A scan format this service can read. */
export type ScanFormat = "grype" | "trivy";

/** A package as the scan named it (nothing normalised: the VEX must repeat the scan's purl). */
export interface ScanPackage {
  readonly name: string;
  readonly version: string;
  /** The scanner's package type (Grype: deb, rpm, apk, npm, python, java-archive, go-module, ...). */
  readonly type: string;
  /** The purl exactly as the scan gave it; may be "". */
  readonly purl: string;
  /** Paths where the scanner found the package (package database, manifest). */
  readonly locations: readonly string[];
}

/** One (vulnerability, package) row. */
export interface ScanFinding {
  readonly vulnerabilityId: string;
  /** Other ids of the same vulnerability (e.g. the CVE of a GHSA). */
  readonly aliases: readonly string[];
  readonly severity: string;
  readonly pkg: ScanPackage;
}

/** A parsed report. */
export interface VulnerabilityReport {
  readonly format: ScanFormat;
  readonly findings: readonly ScanFinding[];
}

/** One parser per scan format. */
export interface ScanParser {
  readonly format: ScanFormat;
  /** Whether the decoded JSON document looks like this format (cheap, top-level keys only). */
  detect(document: Readonly<Record<string, unknown>>): boolean;
  /**
   * Turns the decoded document into findings.
   * @throws ScanFormatError naming the first field of the wrong shape.
   */
  parse(document: Readonly<Record<string, unknown>>): VulnerabilityReport;
}
