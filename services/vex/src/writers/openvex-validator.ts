/**
 * Validation of OpenVEX documents: the official v0.2.0 JSON schema (ajv, draft 2020-12, compiled
 * ahead of time by schema-codegen.ts; the statements' uniqueItems checked by unique-items.ts),
 * plus go-vex's stricter statement rules, which Grype applies when it reads a VEX.
 */
import { compiledValidator } from "./compiled-schemas.js";
import { duplicateItems, type ItemPath } from "./unique-items.js";

interface StatementLike {
  status?: string;
  justification?: string;
  impact_statement?: string;
  action_statement?: string;
}

// Statements are bucketed by vulnerability, status and first subcomponent (unique-items.ts).
const STATEMENT_BUCKET: readonly ItemPath[] = [["vulnerability"], ["status"], ["products", 0, "subcomponents", 0, "@id"]];

/**
 * Every problem with an OpenVEX document, each starting with the JSON pointer it concerns:
 * the official schema's violations, then go-vex's statement rules (justification and
 * impact_statement only with not_affected, action_statement only with affected, not_affected
 * justified). Empty when valid. Never throws.
 */
export function openVexProblems(doc: unknown): string[] {
  const validate = compiledValidator("openvex");
  const problems = validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "invalid"}`);
  const raw = typeof doc === "object" && doc !== null ? (doc as { statements?: unknown }).statements : undefined;
  if (Array.isArray(raw)) problems.push(...duplicateItems(raw, "/statements", STATEMENT_BUCKET));
  const statements = Array.isArray(raw) ? raw.filter((s): s is StatementLike => typeof s === "object" && s !== null) : [];
  statements.forEach((s, i) => {
    if (s.status !== "not_affected" && (s.justification !== undefined || s.impact_statement !== undefined)) {
      problems.push(`/statements/${i} justification and impact_statement belong to not_affected only`);
    }
    if (s.status !== "affected" && s.action_statement !== undefined) problems.push(`/statements/${i} action_statement belongs to affected only`);
    if (s.status === "not_affected" && s.justification === undefined && s.impact_statement === undefined) {
      problems.push(`/statements/${i} not_affected needs a justification or an impact_statement`);
    }
  });
  return problems;
}
