/**
 * Validation of OpenVEX documents: the official v0.2.0 JSON schema (ajv, draft 2020-12), plus
 * go-vex's stricter statement rules, which Grype applies when it reads a VEX.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { duplicateItems, type ItemPath } from "./unique-items.js";

let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (validator === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
    // ajv does not know the "iri" format the schema uses for @id.
    ajv.addFormat("iri", true);
    const schema = JSON.parse(readFileSync(fileURLToPath(new URL("../schema/openvex_json_schema.json", import.meta.url)), "utf8")) as {
      properties?: { statements?: { uniqueItems?: boolean } };
    };
    // ajv checks uniqueItems by deep-comparing every pair: quadratic, a minute for 20,000
    // statements. That one constraint is checked by duplicateItems instead (same rule).
    if (schema.properties?.statements?.uniqueItems !== true) throw new Error("the OpenVEX schema no longer declares statements uniqueItems");
    delete schema.properties.statements.uniqueItems;
    validator = ajv.compile(schema);
  }
  return validator;
}

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
 * justified). Empty when valid. Never throws; the schema is compiled on first use.
 */
export function openVexProblems(doc: unknown): string[] {
  const validate = schemaValidator();
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
