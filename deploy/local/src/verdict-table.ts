/** Renders reachability results as a plain-text table for a terminal. */
import type { ReachabilityResult } from "@vexxy/proto";

const COLUMNS = ["CVE", "PACKAGE", "VERSION", "STATUS", "JUSTIFICATION", "CONF"] as const;

/** One line a result, aligned, with a header; the reason follows each row indented. */
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
    const reason = results[i]?.reason ?? "";
    if (withReasons && reason !== "") out.push(`    ${reason}`);
  });
  return out.join("\n");
}
