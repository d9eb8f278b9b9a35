/**
 * OpenVEX v0.2.0: one statement per (vulnerability, package) verdict. The product is the
 * image's purl; each statement's subcomponent is the package purl exactly as the scan named
 * it, so Grype and Trivy match their own identifiers. Every statement states its evidence:
 * not_affected in impact_statement, affected in status_notes beside the action_statement,
 * under_investigation in status_notes. A document that fails the schema is never returned.
 */
import { VexJustification, VexStatus, type Verdict } from "@vexxy/proto";
import type { VexInput, VexWriter, WrittenVex } from "./vex-writer.js";
import { openVexProblems } from "./openvex-validator.js";
import { InvalidVexDocumentError } from "../errors.js";

export const OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0";

const STATUS: Readonly<Record<VexStatus, string>> = {
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

function evidenceText(v: Verdict): string {
  const items = v.evidence.slice(0, 12).map((e) => [e.kind, e.path, e.detail].filter((s) => s !== "").join(" "));
  const more = v.evidence.length > 12 ? ` (+${v.evidence.length - 12} more)` : "";
  return `${v.reason}${items.length > 0 ? ` Evidence: ${items.join("; ")}${more}.` : ""} Confidence ${v.confidence.toFixed(2)}.`;
}

function componentPurl(v: Verdict): string {
  if (v.packagePurl !== "") return v.packagePurl;
  const name = encodeURIComponent(v.packageName === "" ? "unknown" : v.packageName);
  return `pkg:generic/${name}${v.packageVersion !== "" ? `@${encodeURIComponent(v.packageVersion)}` : ""}`;
}

function statement(v: Verdict, productPurl: string): Record<string, unknown> {
  const status = STATUS[v.status];
  const purl = componentPurl(v);
  const s: Record<string, unknown> = {
    vulnerability: { name: v.vulnerabilityId, ...(v.aliases.length > 0 ? { aliases: [...v.aliases] } : {}) },
    products: [{ "@id": productPurl, identifiers: { purl: productPurl }, subcomponents: [{ "@id": purl, identifiers: { purl } }] }],
    status,
  };
  const evidence = evidenceText(v);
  if (status === "not_affected") {
    const justification = JUSTIFICATION[v.justification];
    if (justification !== undefined) s["justification"] = justification;
    s["impact_statement"] = evidence;
  } else if (status === "affected") {
    s["action_statement"] = `Update ${v.packageName} to a version that fixes ${v.vulnerabilityId}, or remove it; the workload was observed using it at run time.`;
    s["status_notes"] = evidence;
  } else {
    s["status_notes"] = evidence;
  }
  return s;
}

/** The OpenVEX v0.2.0 writer. */
export class OpenVexWriter implements VexWriter {
  readonly format = "openvex";

  write(input: VexInput): WrittenVex {
    const document: Record<string, unknown> = {
      "@context": OPENVEX_CONTEXT,
      "@id": input.documentId,
      author: input.author,
      role: "Runtime reachability analysis",
      timestamp: input.timestamp.toISOString(),
      version: 1,
      tooling: input.tooling,
      statements: input.verdicts.map((v) => statement(v, input.productPurl)),
    };
    const problems = openVexProblems(document);
    if (problems.length > 0) throw new InvalidVexDocumentError(problems);
    return { format: this.format, document, json: `${JSON.stringify(document, null, 2)}\n` };
  }
}
