/**
 * Reads Trivy's JSON output (`trivy image --format json`, SchemaVersion 2): `Results[]` per
 * target, each with `Type` (debian, alpine, npm, ...) and `Vulnerabilities[]`
 * (VulnerabilityID, PkgName, InstalledVersion, PkgIdentifier.PURL, Severity, VendorIDs).
 */
import { optionalArray, optionalString, requireObject, requireString } from "./json-fields.js";
import type { ScanFinding, ScanParser, VulnerabilityReport } from "./scan-report.js";

const ROOT = "vulnerability_report";

// Trivy names targets by OS family or language file type; Grype's package type names are
// what the rest of the engine speaks.
const TRIVY_TYPES: Readonly<Record<string, string>> = {
  debian: "deb",
  ubuntu: "deb",
  alpine: "apk",
  wolfi: "apk",
  chainguard: "apk",
  redhat: "rpm",
  centos: "rpm",
  rocky: "rpm",
  alma: "rpm",
  amazon: "rpm",
  oracle: "rpm",
  fedora: "rpm",
  photon: "rpm",
  suse: "rpm",
  "opensuse.leap": "rpm",
  "cbl-mariner": "rpm",
  azurelinux: "rpm",
  npm: "npm",
  "node-pkg": "npm",
  yarn: "npm",
  pnpm: "npm",
  "python-pkg": "python",
  pip: "python",
  pipenv: "python",
  poetry: "python",
  uv: "python",
  jar: "java-archive",
  pom: "java-archive",
  gradle: "java-archive",
  gobinary: "go-module",
  gomod: "go-module",
  gemspec: "gem",
  bundler: "gem",
  cargo: "rust-crate",
  "rust-binary": "rust-crate",
  composer: "php-composer",
  nuget: "dotnet",
  "dotnet-core": "dotnet",
};

/** The Trivy JSON parser. */
export const trivyParser: ScanParser = {
  format: "trivy",

  detect(document) {
    return "Results" in document || ("SchemaVersion" in document && "ArtifactName" in document);
  },

  parse(document): VulnerabilityReport {
    const findings: ScanFinding[] = [];
    optionalArray(document["Results"], `${ROOT}.Results`).forEach((entry, i) => {
      const at = `${ROOT}.Results[${i}]`;
      const result = requireObject(entry, at);
      const trivyType = optionalString(result["Type"], `${at}.Type`).toLowerCase();
      const target = optionalString(result["Target"], `${at}.Target`);
      optionalArray(result["Vulnerabilities"], `${at}.Vulnerabilities`).forEach((vEntry, j) => {
        findings.push(parseVulnerability(vEntry, `${at}.Vulnerabilities[${j}]`, trivyType, target));
      });
    });
    return { format: "trivy", findings };
  },
};

function parseVulnerability(entry: unknown, at: string, trivyType: string, target: string): ScanFinding {
  const v = requireObject(entry, at);
  const vulnerabilityId = requireString(v["VulnerabilityID"], `${at}.VulnerabilityID`);
  const identifier = v["PkgIdentifier"];
  const purl =
    identifier === undefined || identifier === null ? "" : optionalString(requireObject(identifier, `${at}.PkgIdentifier`)["PURL"], `${at}.PkgIdentifier.PURL`);
  const aliases = optionalArray(v["VendorIDs"], `${at}.VendorIDs`)
    .map((id, k) => optionalString(id, `${at}.VendorIDs[${k}]`))
    .filter((id) => id !== "" && id !== vulnerabilityId);
  const pkgPath = optionalString(v["PkgPath"], `${at}.PkgPath`);
  return {
    vulnerabilityId,
    aliases,
    severity: optionalString(v["Severity"], `${at}.Severity`),
    pkg: {
      name: requireString(v["PkgName"], `${at}.PkgName`),
      version: optionalString(v["InstalledVersion"], `${at}.InstalledVersion`),
      type: TRIVY_TYPES[trivyType] ?? trivyType,
      purl,
      locations: [pkgPath || target].filter((path) => path !== ""),
    },
  };
}
