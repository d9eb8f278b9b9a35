/**
 * Validation of CycloneDX 1.6 JSON documents (the VEX and the runtime SBOM): the official
 * schema (draft-07, with the SPDX licence list and JSF schemas it references) by ajv, compiled
 * ahead of time (schema-codegen.ts; the top-level lists' uniqueItems by unique-items.ts), plus the
 * rules the schema cannot state: every bom-ref unique, every affects[].ref naming a component
 * of the document, and no (vulnerability, component) pair in two vulnerabilities[] entries,
 * which would let consumers read two analyses of one finding.
 */
import { CYCLONEDX_UNIQUE_LISTS as UNIQUE_LISTS, compiledValidator } from "./compiled-schemas.js";
import { duplicateItems, type ItemPath } from "./unique-items.js";

/** What each list's items are bucketed by before the full comparison (unique-items.ts). */
const BUCKETS: Readonly<Record<(typeof UNIQUE_LISTS)[number], readonly ItemPath[]>> = {
  components: [["bom-ref"], ["purl"], ["name"], ["version"]],
  services: [["bom-ref"], ["name"]],
  dependencies: [["ref"]],
  vulnerabilities: [["bom-ref"], ["id"]],
};

/** The schema's uniqueItems of the top-level lists. */
function duplicateListItems(doc: Record<string, unknown>): string[] {
  return UNIQUE_LISTS.flatMap((name) => {
    const list = doc[name];
    return Array.isArray(list) ? duplicateItems(list, `/${name}`, BUCKETS[name]) : [];
  });
}

interface VulnerabilityLike {
  id?: string;
  affects?: { ref?: unknown }[];
}

/** Every bom-ref of the document, with its JSON pointer (components nested at any depth). */
function bomRefs(doc: Record<string, unknown>): { ref: string; at: string }[] {
  const found: { ref: string; at: string }[] = [];
  // The path is kept as segments and written out only where a bom-ref is found: a pointer string
  // for every node visited cost more than the visit.
  const path: (string | number)[] = [];
  const pointer = (): string => path.map((segment) => `/${segment}`).join("");
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        path.push(i);
        visit(node[i]);
        path.pop();
      }
      return;
    }
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === "bom-ref" && typeof value === "string") found.push({ ref: value, at: pointer() });
      else if (typeof value === "object") {
        path.push(key);
        visit(value);
        path.pop();
      }
    }
  };
  visit(doc);
  return found;
}

/** The references rules: unique bom-refs, resolvable affects, one entry per (vulnerability, component). */
function referenceProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const refs = new Map<string, string>();
  for (const { ref, at } of bomRefs(doc)) {
    const first = refs.get(ref);
    if (first !== undefined) problems.push(`${at}/bom-ref ${JSON.stringify(ref)} is also the bom-ref of ${first || "/"}`);
    else refs.set(ref, at);
  }
  const vulnerabilities = Array.isArray(doc["vulnerabilities"]) ? (doc["vulnerabilities"] as VulnerabilityLike[]) : [];
  const stated = new Map<string, number>();
  vulnerabilities.forEach((v, i) => {
    (v.affects ?? []).forEach((a, j) => {
      const ref = typeof a.ref === "string" ? a.ref : "";
      if (!refs.has(ref)) problems.push(`/vulnerabilities/${i}/affects/${j}/ref ${JSON.stringify(ref)} names no bom-ref of the document`);
      const key = `${v.id ?? ""}\u0000${ref}`;
      const first = stated.get(key);
      if (first !== undefined && first !== i) {
        problems.push(`/vulnerabilities/${i} states ${v.id ?? "?"} for ${ref} again (first in /vulnerabilities/${first})`);
      } else stated.set(key, i);
    });
  });
  return problems;
}

/**
 * Every problem with a CycloneDX 1.6 JSON document, each starting with the JSON pointer it
 * concerns: the schema's violations, then the reference rules. Empty when valid. Never throws.
 */
export function cycloneDxProblems(doc: unknown): string[] {
  const validate = compiledValidator("cyclonedx");
  const problems = validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "invalid"}`);
  if (typeof doc === "object" && doc !== null && !Array.isArray(doc)) {
    problems.push(...duplicateListItems(doc as Record<string, unknown>), ...referenceProblems(doc as Record<string, unknown>));
  }
  return problems;
}
