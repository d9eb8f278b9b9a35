/**
 * CycloneDX 1.6 VEX: a BOM whose components are the scanned packages (bom-ref and purl: the
 * scan's own purl), whose metadata.component is the image (`pkg:oci/...@sha256:...`), and whose
 * vulnerabilities[] state the analysis of each vulnerability for the components it affects.
 *
 * Verdicts are first merged per (vulnerability or alias, package) exactly as for OpenVEX
 * (statement-groups.ts: the most cautious verdict of a disagreeing group decides), so a
 * (vulnerability, component) pair gets one analysis. The groups of one vulnerability that reach
 * the same state and justification share one vulnerabilities[] entry, affects[] listing their
 * components; groups with another outcome get an entry of their own, naming other components.
 *
 * Status → analysis.state: not_affected → not_affected, affected → exploitable,
 * under_investigation (and an unset status) → in_triage, fixed → resolved. OpenVEX
 * justification → analysis.justification (the mapping CISA's VEX status justifications and
 * vexctl use): component_not_present and vulnerable_code_not_present → code_not_present,
 * vulnerable_code_not_in_execute_path → code_not_reachable,
 * vulnerable_code_cannot_be_controlled_by_adversary → requires_environment,
 * inline_mitigations_already_exist → protected_by_mitigating_control. analysis.detail carries
 * the reason, the evidence and the confidence; an affected entry also gets response ["update"]
 * and a recommendation. A not_affected verdict without a justification or any evidence is
 * refused, as for OpenVEX, and a document failing the schema is never returned.
 */
import { Enums, Models } from "@cyclonedx/cyclonedx-library";
import { VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import { InvalidVexDocumentError } from "../errors.js";
import { PROPERTY_PREFIX, newBom, packageComponent, productProblems, serialNumberOf, serialiseBom } from "./cyclonedx-common.js";
import { groupVerdicts, type StatementGroup } from "./statement-groups.js";
import { subcomponentPurl } from "./subcomponent-purl.js";
import type { VexInput, VexWriter, WrittenVex } from "./vex-writer.js";

const { AnalysisState, AnalysisJustification, AnalysisResponse, Severity } = Enums.Vulnerability;

/** Our status → CycloneDX analysis.state. */
export const CYCLONEDX_STATE: Readonly<Record<VexStatus, Enums.Vulnerability.AnalysisState>> = {
  // An unset status is a defect upstream; the fail-closed reading is "not decided".
  [VexStatus.UNSPECIFIED]: AnalysisState.InTriage,
  [VexStatus.NOT_AFFECTED]: AnalysisState.NotAffected,
  [VexStatus.AFFECTED]: AnalysisState.Exploitable,
  [VexStatus.FIXED]: AnalysisState.Resolved,
  [VexStatus.UNDER_INVESTIGATION]: AnalysisState.InTriage,
};

/** OpenVEX justification → CycloneDX analysis.justification. */
export const CYCLONEDX_JUSTIFICATION: Readonly<Record<VexJustification, Enums.Vulnerability.AnalysisJustification | undefined>> = {
  [VexJustification.UNSPECIFIED]: undefined,
  [VexJustification.COMPONENT_NOT_PRESENT]: AnalysisJustification.CodeNotPresent,
  [VexJustification.VULNERABLE_CODE_NOT_PRESENT]: AnalysisJustification.CodeNotPresent,
  [VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH]: AnalysisJustification.CodeNotReachable,
  [VexJustification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY]: AnalysisJustification.RequiresEnvironment,
  [VexJustification.INLINE_MITIGATIONS_ALREADY_EXIST]: AnalysisJustification.ProtectedByMitigatingControl,
};

/** Evidence items quoted per component; the full list stays in the verdicts blob. */
const EVIDENCE_QUOTED = 12;

const SEVERITIES: ReadonlySet<string> = new Set(Object.values(Severity));

function evidenceText(v: Verdict): string {
  const items = v.evidence.slice(0, EVIDENCE_QUOTED).map((e) => [e.kind, e.path, e.detail].filter((s) => s !== "").join(" "));
  const more = v.evidence.length > EVIDENCE_QUOTED ? ` (+${v.evidence.length - EVIDENCE_QUOTED} more)` : "";
  const reason = v.reason.trim() === "" ? "" : `${v.reason.trim().replace(/\.$/, "")}.`;
  const evidence = items.length > 0 ? ` Evidence: ${items.join("; ")}${more}.` : "";
  return `${reason}${evidence} Confidence ${v.confidence.toFixed(2)}.`.trim();
}

function groupDetail(group: StatementGroup): string {
  const merged =
    group.members.length > 1
      ? ` This analysis answers ${group.members.length} findings of this package and vulnerability${group.conflictResolved ? "; they disagreed and the most cautious verdict is stated" : ""}.`
      : "";
  return `${evidenceText(group.decisive)}${merged}`;
}

/** A vulnerability source for an id whose database the prefix tells; undefined for others. */
function sourceOf(id: string): Models.Vulnerability.Source | undefined {
  if (/^CVE-\d{4}-\d+$/i.test(id)) return new Models.Vulnerability.Source({ name: "NVD", url: `https://nvd.nist.gov/vuln/detail/${id.toUpperCase()}` });
  if (/^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/i.test(id)) return new Models.Vulnerability.Source({ name: "GitHub", url: `https://github.com/advisories/${id}` });
  return undefined;
}

function inputProblems(input: VexInput): string[] {
  const problems = productProblems(input);
  if (input.verdicts.length === 0) problems.push("/vulnerabilities a VEX needs at least one vulnerability, and the job has no verdicts");
  input.verdicts.forEach((v, i) => {
    const label = `verdict ${i} (${v.vulnerabilityId || "?"} in ${v.packageName || v.packagePurl || "?"})`;
    if (v.vulnerabilityId.trim() === "") problems.push(`${label} has no vulnerability id`);
    if (v.status !== VexStatus.NOT_AFFECTED) return;
    if (CYCLONEDX_JUSTIFICATION[v.justification] === undefined) problems.push(`${label} is not_affected without a justification`);
    if (v.reason.trim() === "" && v.evidence.length === 0) problems.push(`${label} is not_affected without any evidence`);
  });
  return problems;
}

interface Entry {
  readonly id: string;
  readonly state: Enums.Vulnerability.AnalysisState;
  readonly justification: Enums.Vulnerability.AnalysisJustification | undefined;
  readonly groups: StatementGroup[];
}

/** Groups of one vulnerability with one outcome, in the order of their first verdict. */
function entries(groups: readonly StatementGroup[]): Entry[] {
  const byKey = new Map<string, Entry>();
  for (const group of groups) {
    const state = CYCLONEDX_STATE[group.decisive.status];
    const justification = state === AnalysisState.NotAffected ? CYCLONEDX_JUSTIFICATION[group.decisive.justification] : undefined;
    const key = `${group.vulnerabilityName}\u0000${state}\u0000${justification ?? ""}`;
    const entry = byKey.get(key) ?? { id: group.vulnerabilityName, state, justification, groups: [] };
    entry.groups.push(group);
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

function vulnerability(entry: Entry, index: number, components: ReadonlyMap<string, Models.Component>): Models.Vulnerability.Vulnerability {
  const single = entry.groups.length === 1;
  const detail = entry.groups
    .map((g) => {
      const v = g.decisive;
      const what = `${v.packageName || subcomponentPurl(v)}${v.packageVersion !== "" ? ` ${v.packageVersion}` : ""}`;
      return single ? groupDetail(g) : `${what}: ${groupDetail(g)}`;
    })
    .join("\n");
  const analysis = new Models.Vulnerability.Analysis({
    state: entry.state,
    ...(entry.justification !== undefined ? { justification: entry.justification } : {}),
    detail,
  });
  const source = sourceOf(entry.id);
  const vuln = new Models.Vulnerability.Vulnerability({
    bomRef: `${PROPERTY_PREFIX}vulnerability/${index}`,
    id: entry.id,
    ...(source !== undefined ? { source } : {}),
    analysis,
  });
  const aliases = new Set(entry.groups.flatMap((g) => g.aliases));
  for (const alias of aliases) {
    const aliasSource = sourceOf(alias);
    vuln.references.add(new Models.Vulnerability.Reference(alias, aliasSource ?? new Models.Vulnerability.Source({ name: "scanner" })));
  }
  const severity = entry.groups.map((g) => g.decisive.severity.toLowerCase()).find((s) => SEVERITIES.has(s));
  if (severity !== undefined) vuln.ratings.add(new Models.Vulnerability.Rating({ severity: severity as Enums.Vulnerability.Severity }));
  if (entry.state === AnalysisState.Exploitable) {
    analysis.response.add(AnalysisResponse.Update);
    const packages = [...new Set(entry.groups.map((g) => g.decisive.packageName || subcomponentPurl(g.decisive)))].join(", ");
    vuln.recommendation = `Update ${packages} to a version that fixes ${entry.id}, or remove it from the image: the workload was observed using it at run time.`;
  }
  const confidence = Math.min(...entry.groups.map((g) => g.decisive.confidence));
  vuln.properties.add(new Models.Property(`${PROPERTY_PREFIX}confidence`, confidence.toFixed(2)));
  for (const ref of new Set(entry.groups.flatMap((g) => g.members.map((m) => subcomponentPurl(m))))) {
    const component = components.get(ref);
    if (component !== undefined) vuln.affects.add(new Models.Vulnerability.Affect(component.bomRef));
  }
  return vuln;
}

/** The serial number (document id) of a job's CycloneDX VEX. */
export function cycloneDxVexSerial(documentId: string): string {
  return serialNumberOf(`${documentId}#cyclonedx-vex`);
}

/** The CycloneDX 1.6 VEX writer. */
export class CycloneDxVexWriter implements VexWriter {
  readonly format = "cyclonedx" as const;

  /**
   * Writes the VEX and validates it.
   * @throws InvalidVexDocumentError when the product is not a pkg:oci purl, there are no
   *   verdicts, a not_affected verdict lacks a justification or evidence, or the document fails
   *   the CycloneDX 1.6 schema or the reference rules (cyclonedx-validator.ts).
   */
  write(input: VexInput): WrittenVex {
    const refused = inputProblems(input);
    if (refused.length > 0) throw new InvalidVexDocumentError(refused);
    const bom = newBom(input, cycloneDxVexSerial(input.documentId), Enums.LifecyclePhase.Operations);
    const components = new Map<string, Models.Component>();
    for (const v of input.verdicts) {
      const purl = subcomponentPurl(v);
      if (components.has(purl)) continue;
      const component = packageComponent(purl, v);
      components.set(purl, component);
      bom.components.add(component);
    }
    const list = entries(input.groups ?? groupVerdicts(input.verdicts));
    for (const [i, entry] of list.entries()) bom.vulnerabilities.add(vulnerability(entry, i, components));
    const { document, json } = serialiseBom(bom);
    return { format: this.format, document, json, statementVerdicts: list.map((e) => e.groups.flatMap((g) => g.members)) };
  }
}
