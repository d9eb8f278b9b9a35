/**
 * OpenVEX v0.2.0: one statement per (vulnerability, package) — verdicts of one package and one
 * vulnerability (or its aliases) are merged so no two statements conflict (statement-groups.ts).
 * The products are the image's purls (product-identity.ts); the subcomponents a tool-neutral
 * package purl and the scan's own, so Grype and Trivy both match. Every statement states its
 * confidence and the factors it is made of in status_notes ("confidence 0.87: evidence none of
 * 37 files used (+0.50), trace complete, exercised 42.0 s (+0.15), exit 0 (+0.10), ..."), and its
 * evidence in words: not_affected in impact_statement beside its justification; affected and
 * under_investigation after the factors in status_notes (the schema and go-vex allow
 * impact_statement with not_affected only), affected beside the action_statement the schema
 * requires. A not_affected verdict without a justification or without any evidence is refused,
 * and a document that fails the schema or go-vex's rules is never returned.
 */
import { PackageURL } from "packageurl-js";
import { VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import type { VexInput, VexWriter, WrittenVex } from "./vex-writer.js";
import { openVexProblems } from "./openvex-validator.js";
import { groupVerdicts, type StatementGroup } from "./statement-groups.js";
import { InvalidVexDocumentError } from "../errors.js";

/** The @context every document carries; go-vex reads a bare https://openvex.dev/ns as v0.0.1. */
export const OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0";

/** The author's role stated in every document. */
export const OPENVEX_ROLE = "Runtime reachability analysis";

const STATUS: Readonly<Record<VexStatus, string>> = {
  // An unset status is a defect upstream; the fail-closed reading is "not decided".
  [VexStatus.UNSPECIFIED]: "under_investigation",
  [VexStatus.NOT_AFFECTED]: "not_affected",
  [VexStatus.AFFECTED]: "affected",
  [VexStatus.FIXED]: "fixed",
  [VexStatus.UNDER_INVESTIGATION]: "under_investigation",
};

const JUSTIFICATION: Readonly<Record<VexJustification, string | undefined>> = {
  [VexJustification.UNSPECIFIED]: undefined,
  [VexJustification.COMPONENT_NOT_PRESENT]: "component_not_present",
  [VexJustification.VULNERABLE_CODE_NOT_PRESENT]: "vulnerable_code_not_present",
  [VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH]: "vulnerable_code_not_in_execute_path",
  [VexJustification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY]: "vulnerable_code_cannot_be_controlled_by_adversary",
  [VexJustification.INLINE_MITIGATIONS_ALREADY_EXIST]: "inline_mitigations_already_exist",
};

/** Evidence items quoted in a statement; the full list stays in verdicts.json and the event. */
const EVIDENCE_QUOTED = 12;

function evidenceText(v: Verdict): string {
  const items = v.evidence.slice(0, EVIDENCE_QUOTED).map((e) => [e.kind, e.path, e.detail].filter((s) => s !== "").join(" "));
  const more = v.evidence.length > EVIDENCE_QUOTED ? ` (+${v.evidence.length - EVIDENCE_QUOTED} more)` : "";
  const reason = v.reason.trim() === "" ? "" : `${v.reason.trim().replace(/\.$/, "")}.`;
  const evidence = items.length > 0 ? ` Evidence: ${items.join("; ")}${more}.` : "";
  return `${reason}${evidence}`.trim();
}

// Short labels of the factors reachability names; an unknown name is written as it is.
const FACTOR_LABELS: Readonly<Record<string, string>> = {
  evidence_kind: "evidence",
  trace_completeness: "trace",
  exercise_duration: "exercised",
  exit_status: "",
  test_script: "test script",
  routes_hit: "routes hit",
  package_coverage: "coverage",
  catalogue_completeness: "catalogue",
};

/** "confidence 0.87: evidence none of 37 files used (+0.50), trace complete, ..." (the score alone for verdicts without factors). */
export function confidenceNote(v: Verdict): string {
  const factors = v.factors.map((f) => {
    const label = FACTOR_LABELS[f.name] ?? f.name.replace(/_/g, " ");
    const effect = f.effect === 0 ? "" : ` (${f.effect > 0 ? "+" : ""}${f.effect.toFixed(2)})`;
    return `${label !== "" ? `${label} ` : ""}${f.value}${effect}`;
  });
  return `confidence ${v.confidence.toFixed(2)}${factors.length > 0 ? `: ${factors.join(", ")}` : ""}`;
}

function label(v: Verdict, index: number): string {
  return `/statements/${index} (${v.vulnerabilityId || "?"} in ${v.packageName || v.packagePurl || "?"})`;
}

function isIri(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(text) && URL.canParse(text);
}

function isPurl(text: string): boolean {
  try {
    PackageURL.fromString(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refusals beyond the schema (whose `iri` format ajv cannot check): the document and product
 * ids must be real identifiers, and a not_affected claim must be justified and evidenced.
 */
function inputProblems(input: VexInput): string[] {
  const { verdicts } = input;
  const problems: string[] = [];
  if (!isIri(input.documentId)) problems.push(`/@id ${JSON.stringify(input.documentId)} is not an absolute IRI`);
  if (input.products.length === 0) problems.push("/statements/*/products the image has no product identifier");
  input.products.forEach((p, i) => {
    if (!p.startsWith("pkg:") || !isPurl(p)) problems.push(`/statements/*/products/${i}/@id ${JSON.stringify(p)} is not a purl`);
  });
  if (verdicts.length === 0) problems.push("/statements an OpenVEX document needs at least one statement, and the job has no verdicts");
  verdicts.forEach((v, i) => {
    if (v.vulnerabilityId.trim() === "") problems.push(`${label(v, i)} has no vulnerability id`);
    if (v.status !== VexStatus.NOT_AFFECTED) return;
    if (JUSTIFICATION[v.justification] === undefined) problems.push(`${label(v, i)} is not_affected without a justification`);
    if (v.reason.trim() === "" && v.evidence.length === 0) problems.push(`${label(v, i)} is not_affected without any evidence`);
  });
  return problems;
}

function statement(group: StatementGroup, products: readonly string[]): Record<string, unknown> {
  const v = group.decisive;
  const status = STATUS[v.status];
  const subcomponents = group.subcomponents.map((purl) => ({ "@id": purl, identifiers: { purl } }));
  const s: Record<string, unknown> = {
    vulnerability: { name: group.vulnerabilityName, ...(group.aliases.length > 0 ? { aliases: group.aliases } : {}) },
    products: products.map((p) => ({ "@id": p, identifiers: { purl: p }, subcomponents })),
    status,
  };
  const merged =
    group.members.length > 1
      ? ` This statement answers ${group.members.length} findings of this package and vulnerability${group.conflictResolved ? "; they disagreed and the most cautious verdict is stated" : ""}.`
      : "";
  const evidence = `${evidenceText(v)}${merged}`.trim();
  const note = `${confidenceNote(v)}.`;
  if (status === "not_affected") {
    s["justification"] = JUSTIFICATION[v.justification];
    s["impact_statement"] = evidence;
    s["status_notes"] = note;
  } else if (status === "affected") {
    const pkg = v.packageName !== "" ? v.packageName : (group.subcomponents[0] ?? "the package");
    s["action_statement"] =
      `Update ${pkg} to a version that fixes ${group.vulnerabilityName}, or remove it from the image: the workload was observed using it at run time.`;
    s["status_notes"] = `${note} ${evidence}`.trim();
  } else {
    s["status_notes"] = `${note} ${evidence}`.trim();
  }
  return s;
}

/** The OpenVEX v0.2.0 writer. */
export class OpenVexWriter implements VexWriter {
  readonly format = "openvex" as const;

  /**
   * Writes one statement per verdict and validates the document.
   * @throws InvalidVexDocumentError when the document id is not an IRI, the product not a purl,
   *   there are no verdicts, a not_affected verdict lacks a justification or evidence, or the
   *   document fails the schema or go-vex's rules; RangeError for an invalid timestamp.
   */
  write(input: VexInput): WrittenVex {
    const refused = inputProblems(input);
    if (refused.length > 0) throw new InvalidVexDocumentError(refused);
    const groups = input.groups ?? groupVerdicts(input.verdicts);
    const statements = groups.map((g) => statement(g, input.products));
    const document: Record<string, unknown> = {
      "@context": OPENVEX_CONTEXT,
      "@id": input.documentId,
      author: input.author,
      role: OPENVEX_ROLE,
      timestamp: input.timestamp.toISOString(),
      version: 1,
      tooling: input.tooling,
      statements,
    };
    const problems = openVexProblems(document);
    if (problems.length > 0) throw new InvalidVexDocumentError(problems);
    return { format: this.format, document, json: `${JSON.stringify(document, null, 2)}\n`, statementVerdicts: groups.map((g) => g.members) };
  }
}
