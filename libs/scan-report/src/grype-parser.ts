/**
 * Reads Grype's JSON output (`grype -o json`): `matches[]`, each with `vulnerability`
 * (id, severity), `relatedVulnerabilities[]` (their ids become aliases) and `artifact`
 * (name, version, type, purl — possibly empty —, locations[].path).
 */
import { ScanFormatError } from "./errors.js";
import { isObject, optionalArray, optionalString, requireArray, requireObject, requireString } from "./json-fields.js";
import type { ScanFinding, ScanParser, VulnerabilityReport } from "./scan-report.js";

const ROOT = "vulnerability_report";

/** The Grype JSON parser. */
export const grypeParser: ScanParser = {
  format: "grype",

  detect(document) {
    const descriptor = document["descriptor"];
    return "matches" in document || (isObject(descriptor) && descriptor["name"] === "grype");
  },

  parse(document): VulnerabilityReport {
    const matches = requireArray(document["matches"], `${ROOT}.matches`);
    const findings = matches.map((entry, i) => parseMatch(entry, `${ROOT}.matches[${i}]`));
    return { format: "grype", findings };
  },
};

function parseMatch(entry: unknown, at: string): ScanFinding {
  const match = requireObject(entry, at);
  const vulnerability = requireObject(match["vulnerability"], `${at}.vulnerability`);
  const artifact = requireObject(match["artifact"], `${at}.artifact`);
  const vulnerabilityId = requireString(vulnerability["id"], `${at}.vulnerability.id`);

  const aliases: string[] = [];
  optionalArray(match["relatedVulnerabilities"], `${at}.relatedVulnerabilities`).forEach((related, j) => {
    const field = `${at}.relatedVulnerabilities[${j}]`;
    const id = requireString(requireObject(related, field)["id"], `${field}.id`);
    if (id !== vulnerabilityId && !aliases.includes(id)) aliases.push(id);
  });

  const type = optionalString(artifact["type"], `${at}.artifact.type`);
  const purl = optionalString(artifact["purl"], `${at}.artifact.purl`);
  if (type === "" && purl === "") {
    throw new ScanFormatError(`${at}.artifact.type`, "must name the package type when artifact.purl is empty");
  }
  const locations = optionalArray(artifact["locations"], `${at}.artifact.locations`).map((location, j) => {
    const field = `${at}.artifact.locations[${j}]`;
    return optionalString(requireObject(location, field)["path"], `${field}.path`);
  });

  return {
    vulnerabilityId,
    aliases,
    severity: optionalString(vulnerability["severity"], `${at}.vulnerability.severity`),
    pkg: {
      name: requireString(artifact["name"], `${at}.artifact.name`),
      version: optionalString(artifact["version"], `${at}.artifact.version`),
      type,
      purl,
      locations: locations.filter((path) => path !== ""),
    },
  };
}
