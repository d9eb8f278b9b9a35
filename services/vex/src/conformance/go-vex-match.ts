/**
 * The statement matching both scanners delegate to go-vex (openvex/go-vex pkg/vex), as read in
 * its source: Component.Matches, Product.Matches, Statement.Matches, VEX.Matches and
 * SortStatements. Our own implementation over plain JSON documents.
 */
import { purlMatches } from "./purl.js";

/** An OpenVEX component as JSON (product or subcomponent). */
export interface VexComponent {
  readonly "@id"?: string;
  readonly identifiers?: Readonly<Record<string, string>>;
  readonly hashes?: Readonly<Record<string, string>>;
  readonly subcomponents?: readonly VexComponent[];
}

/** An OpenVEX statement as JSON. */
export interface VexStatement {
  readonly vulnerability?: { readonly "@id"?: string; readonly name?: string; readonly aliases?: readonly string[] };
  readonly products?: readonly VexComponent[];
  readonly status?: string;
  readonly justification?: string;
  readonly timestamp?: string;
}

/** An OpenVEX document as JSON. */
export interface VexDocument {
  readonly timestamp?: string;
  readonly statements?: readonly VexStatement[];
}

/** A statement with its position in the document (how results name it). */
export interface IndexedStatement {
  readonly index: number;
  readonly statement: VexStatement;
}

/**
 * Component.Matches: the @id equals the identifier, or the @id is a purl that PurlMatches it;
 * or an identifiers value equals it (a purl-typed one also by PurlMatches); or a hash equals it.
 */
export function componentMatches(c: VexComponent, identifier: string): boolean {
  const id = c["@id"] ?? "";
  if (id !== "" && id === identifier) return true;
  if (id.startsWith("pkg:") && purlMatches(id, identifier)) return true;
  for (const [type, value] of Object.entries(c.identifiers ?? {})) {
    if (value === identifier) return true;
    if (type === "purl" && identifier.startsWith("pkg:") && purlMatches(value, identifier)) return true;
  }
  return Object.values(c.hashes ?? {}).some((h) => h === identifier);
}

/** Product.Matches: the product matches, and (no subcomponents, none asked, or one of them matches). */
export function productMatches(p: VexComponent, identifier: string, subIdentifier: string): boolean {
  if (!componentMatches(p, identifier)) return false;
  const subs = p.subcomponents ?? [];
  if (subs.length === 0 || subIdentifier === "") return true;
  return subs.some((s) => componentMatches(s, subIdentifier));
}

/** Vulnerability.Matches: @id, name or an alias equals the scanner's vulnerability id. */
export function vulnerabilityMatches(s: VexStatement, vulnId: string): boolean {
  const v = s.vulnerability ?? {};
  return v["@id"] === vulnId || v.name === vulnId || (v.aliases ?? []).includes(vulnId);
}

/** Statement.Matches(vuln, product, subcomponents). */
export function statementMatches(s: VexStatement, vulnId: string, product: string, subcomponents: readonly string[]): boolean {
  if (!vulnerabilityMatches(s, vulnId)) return false;
  for (const p of s.products ?? []) {
    if (subcomponents.length === 0 && productMatches(p, product, "")) return true;
    for (const sc of subcomponents) if (productMatches(p, product, sc)) return true;
  }
  return false;
}

function time(ts: string | undefined, fallback: number): number {
  if (ts === undefined || ts === "") return fallback;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? fallback : t;
}

const vulnerabilityIndexes = new WeakMap<readonly VexStatement[], { readonly length: number; readonly index: Map<string, number[]> }>();

/**
 * Statement positions (ascending) by every id Vulnerability.Matches compares (@id, name,
 * aliases), built once per statements array: the self-check asks for every finding of a
 * document, and testing every statement each time made a 20,000-finding document quadratic.
 */
function statementsByVulnerability(statements: readonly VexStatement[]): Map<string, number[]> {
  const cached = vulnerabilityIndexes.get(statements);
  if (cached !== undefined && cached.length === statements.length) return cached.index;
  const index = new Map<string, number[]>();
  statements.forEach((s, i) => {
    const v = s.vulnerability ?? {};
    const ids = new Set([v["@id"], v.name, ...(v.aliases ?? [])].filter((id): id is string => typeof id === "string"));
    for (const id of ids) {
      const list = index.get(id);
      if (list === undefined) index.set(id, [i]);
      else list.push(i);
    }
  });
  vulnerabilityIndexes.set(statements, { length: statements.length, index });
  return index;
}

/**
 * VEX.Matches: the matching statements collected from the last to the first, then stably sorted
 * by vulnerability name and, within one name, by timestamp (a statement without one takes the
 * document's). Grype applies the first of this list, Trivy the last.
 */
export function documentMatches(doc: VexDocument, vulnId: string, product: string, subcomponents: readonly string[]): IndexedStatement[] {
  const statements = doc.statements ?? [];
  const docTime = time(doc.timestamp, 0);
  const found: IndexedStatement[] = [];
  // Only statements whose vulnerability can match (Vulnerability.Matches is Statement.Matches's
  // first test), still visited from the last to the first: the same result as testing every statement.
  const candidates = statementsByVulnerability(statements).get(vulnId) ?? [];
  for (let c = candidates.length - 1; c >= 0; c--) {
    const i = candidates[c]!;
    const s = statements[i];
    if (s !== undefined && statementMatches(s, vulnId, product, subcomponents)) found.push({ index: i, statement: s });
  }
  // Array.prototype.sort is stable, like sort.SliceStable.
  return found.sort((a, b) => {
    const na = a.statement.vulnerability?.name ?? "";
    const nb = b.statement.vulnerability?.name ?? "";
    if (na !== nb) return na < nb ? -1 : 1;
    return time(a.statement.timestamp, docTime) - time(b.statement.timestamp, docTime);
  });
}
