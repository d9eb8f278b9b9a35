/**
 * The environment variables the code reads and the ones the README's "Production
 * configuration" table documents, so a test can hold the two together.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** The repository root. */
export const REPO_ROOT = join(import.meta.dirname, "..", "..", "..");

// The embedded launcher's own runners and the test kit are not services: their variables
// (VEXXY_PG_*) belong to `vexxy up`, not to a deployment.
const NOT_DEPLOYED = new Set(["libs/testkit", "libs/local-servers", "libs/proto"]);

// The typed readers of @vexxy/platform's config module, the only way services read the
// environment, and direct process.env reads as a fallback for anything that bypasses them.
const READER = /\benv\s*\.\s*(?:string|int|port|bool|url|oneOf|optionalString)\(\s*"([A-Z][A-Z0-9_]*)"/g;
const PROCESS_ENV = /\bprocess\.env(?:\[\s*"([A-Z][A-Z0-9_]*)"\s*\]|\.([A-Z][A-Z0-9_]*))/g;

function typescriptFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === "node_modules" || entry === "gen") return [];
    if (statSync(path).isDirectory()) return typescriptFiles(path);
    return entry.endsWith(".ts") ? [path] : [];
  });
}

/** Every environment variable the services and their libraries read, with the files reading it. */
export function variablesReadByCode(root: string = REPO_ROOT): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const packages = ["services", "libs"].flatMap((group) =>
    readdirSync(join(root, group))
      .map((name) => `${group}/${name}`)
      .filter((pkg) => !NOT_DEPLOYED.has(pkg)),
  );
  for (const pkg of packages) {
    for (const file of typescriptFiles(join(root, pkg, "src"))) {
      const text = readFileSync(file, "utf8");
      for (const pattern of [READER, PROCESS_ENV]) {
        for (const match of text.matchAll(pattern)) {
          const name = match[1] ?? match[2];
          if (name === undefined) continue;
          const files = found.get(name) ?? [];
          const rel = relative(root, file);
          if (!files.includes(rel)) files.push(rel);
          found.set(name, files);
        }
      }
    }
  }
  return found;
}

/** One row of the README's configuration table. */
export interface DocumentedVariable {
  readonly name: string;
  /** The row says the variable is planned (set by the manifests ahead of the code that reads it). */
  readonly planned: boolean;
}

/** The heading of the README section holding the table. */
export const CONFIGURATION_HEADING = "## Production configuration";

/**
 * The variables of the table in the README's "Production configuration" section: every
 * backticked UPPER_CASE name in a row's first cell.
 * @throws when the section or its table is missing.
 */
export function documentedVariables(readme: string): DocumentedVariable[] {
  const start = readme.indexOf(`\n${CONFIGURATION_HEADING}\n`);
  if (start < 0) throw new Error(`README has no "${CONFIGURATION_HEADING}" section`);
  const rest = readme.slice(start + 1);
  const next = rest.indexOf("\n## ");
  const section = next < 0 ? rest : rest.slice(0, next);
  const rows = section.split("\n").filter((line) => line.startsWith("| `"));
  if (rows.length === 0) throw new Error(`README's "${CONFIGURATION_HEADING}" section has no table of variables`);
  return rows.flatMap((row) => {
    const cells = row.split(" | ");
    const first = cells[0] ?? "";
    const planned = /\bplanned\b/i.test(row);
    return [...first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => ({ name: m[1] ?? "", planned }));
  });
}
