/** Renders reachability results as a plain-text table for a terminal. */
import type { ReachabilityResult } from "@vexxy/proto";

const COLUMNS = ["CVE", "PACKAGE", "VERSION", "STATUS", "JUSTIFICATION", "CONF"] as const;

/** The factors that moved the score, "evidence code executed +0.95, exercised 42.0 s +0.15, ..." ("" without factors). */
export function confidenceLine(result: ReachabilityResult): string {
  return result.confidenceFactors
    .filter((f) => f.effect !== 0)
    .map((f) => `${f.name.replace(/_/g, " ")} ${f.value} ${f.effect > 0 ? "+" : ""}${f.effect.toFixed(2)}`)
    .join(", ");
}

/**
 * One line a result, aligned, with a header; the reason follows each row indented, then the
 * factors that made its confidence (those with an effect).
 */
export function renderVerdictTable(results: readonly ReachabilityResult[], withReasons = true): string {
  const rows = results.map((r) => [r.cveId, r.packageName, r.packageVersion, r.status, r.justification || "-", r.confidenceScore.toFixed(2)]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const out = [line(COLUMNS), line(widths.map((w) => "-".repeat(w)))];
  rows.forEach((row, i) => {
    out.push(line(row));
    const result = results[i];
    if (!withReasons || result === undefined) return;
    if (result.reason !== "") out.push(`    ${result.reason}`);
    const factors = confidenceLine(result);
    if (factors !== "") out.push(`    confidence: ${factors}`);
  });
  return out.join("\n");
}
