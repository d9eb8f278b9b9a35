/**
 * Verdicts → statements without conflicts. Grype applies the first matching statement and Trivy
 * the last, so two statements that disagree about one (vulnerability, product, subcomponent)
 * would make the tools disagree; none are written.
 *
 * Subcomponents are written so both tools match them. Grype's and Trivy's purls of one Debian
 * package differ (`distro=debian-12` vs `distro=debian-12.N`, `upstream=` only in Grype's, the
 * epoch in Grype's version but in Trivy's `epoch=` qualifier), and go-vex requires every
 * qualifier and the version of our purl to be in theirs. A purl with neither (`pkg:deb/debian/curl`)
 * matches both; the product's digest already pins which curl that is. Where one name has several
 * versions among the findings (nested npm trees, multi-version jars), the versionless form would
 * cover the other versions too, so the version is kept (still qualifier-free). The scan's own purl
 * is listed as well, so a consumer comparing strings still finds the scan's identifier.
 *
 * Grouping: verdicts with the same subcomponent identity whose vulnerability ids or aliases
 * overlap (a GHSA and its CVE) become one statement; when they disagree the most cautious
 * verdict decides (affected, then under_investigation, then fixed, then not_affected).
 */
import { VexStatus, type Verdict } from "@vexxy/proto";
import { formatPurl, parsePurl } from "../conformance/purl.js";
import { subcomponentPurl } from "./subcomponent-purl.js";

/** One statement to write. */
export interface StatementGroup {
  /** The verdict whose status, justification and evidence the statement carries. */
  readonly decisive: Verdict;
  /** Every verdict the statement answers (at least `decisive`). */
  readonly members: readonly Verdict[];
  readonly vulnerabilityName: string;
  readonly aliases: readonly string[];
  /** The tool-neutral purl first, then each distinct purl the scan used. */
  readonly subcomponents: readonly string[];
  /** Whether the members disagreed (the cautious verdict won). */
  readonly conflictResolved: boolean;
}

const CAUTION: Readonly<Record<VexStatus, number>> = {
  [VexStatus.AFFECTED]: 4,
  [VexStatus.UNDER_INVESTIGATION]: 3,
  [VexStatus.UNSPECIFIED]: 3,
  [VexStatus.FIXED]: 2,
  [VexStatus.NOT_AFFECTED]: 1,
};

function neutralKey(purl: string): { key: string; version: string } {
  const p = parsePurl(purl);
  if (p === undefined) return { key: purl, version: "" };
  return { key: formatPurl({ type: p.type, namespace: p.namespace, name: p.name }), version: p.version };
}

/** The epoch-free version (Grype writes deb/rpm epochs as `E:version`). */
function epochFree(version: string): string {
  return version.replace(/^\d+:/, "");
}

/**
 * Groups verdicts into conflict-free statements, in the order of their first verdict.
 * Never throws.
 */
export function groupVerdicts(verdicts: readonly Verdict[]): StatementGroup[] {
  const exact = verdicts.map((v) => subcomponentPurl(v));
  // Findings share purls (a package has many vulnerabilities): each purl's key is made once.
  const neutralKeys = new Map<string, { key: string; version: string }>();
  const neutral = exact.map((purl) => {
    let n = neutralKeys.get(purl);
    if (n === undefined) {
      n = neutralKey(purl);
      neutralKeys.set(purl, n);
    }
    return n;
  });
  // Names with several versions among the findings keep their version.
  const versions = new Map<string, Set<string>>();
  neutral.forEach((n, i) => {
    const set = versions.get(n.key) ?? new Set<string>();
    set.add(epochFree(n.version !== "" ? n.version : (verdicts[i]?.packageVersion ?? "")));
    versions.set(n.key, set);
  });
  const identity = neutral.map((n, i) => {
    if ((versions.get(n.key)?.size ?? 0) <= 1 || n.version === "") return n.key;
    const p = parsePurl(exact[i] ?? "");
    return p === undefined ? n.key : formatPurl({ type: p.type, namespace: p.namespace, name: p.name, version: p.version });
  });

  // Union-find over verdicts sharing an identity and any vulnerability id.
  const parent = verdicts.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i] ?? i] ?? i;
    return i;
  };
  const owner = new Map<string, number>();
  verdicts.forEach((v, i) => {
    for (const id of [v.vulnerabilityId, ...v.aliases]) {
      if (id === "") continue;
      const key = `${identity[i]}\u0000${id}`;
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const clusters = new Map<number, number[]>();
  verdicts.forEach((_, i) => {
    const root = find(i);
    const list = clusters.get(root) ?? [];
    list.push(i);
    clusters.set(root, list);
  });

  const groups: StatementGroup[] = [];
  for (const indexes of [...clusters.values()].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))) {
    const members = indexes.map((i) => verdicts[i]).filter((v): v is Verdict => v !== undefined);
    const decisive = members.reduce((best, v) => (CAUTION[v.status] > CAUTION[best.status] ? v : best));
    const ids = new Set(members.flatMap((v) => [v.vulnerabilityId, ...v.aliases]).filter((id) => id !== ""));
    ids.delete(decisive.vulnerabilityId);
    const subs = [identity[indexes[0] ?? 0] ?? "", ...indexes.map((i) => exact[i] ?? "")].filter((s) => s !== "");
    groups.push({
      decisive,
      members,
      vulnerabilityName: decisive.vulnerabilityId,
      aliases: [...ids].sort(),
      subcomponents: [...new Set(subs)],
      conflictResolved: new Set(members.map((v) => v.status)).size > 1,
    });
  }
  return groups;
}
