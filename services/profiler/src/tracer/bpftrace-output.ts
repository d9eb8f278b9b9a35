/**
 * Parses bpftrace's `-f json` output: one JSON object a line; maps arrive at END as
 * {"type":"map","data":{"@name":{"<path>,<ok>":count}}}. A key's last comma separates the
 * path (which may itself hold commas) from the ok flag.
 */
import type { PathCount } from "./tracer.js";

export interface ParsedMaps {
  readonly maps: ReadonlyMap<string, PathCount[]>;
  readonly attached: boolean;
  /** Lines bpftrace printed about lost events, if any. */
  readonly lostLines: readonly string[];
}

/** Parses the whole stdout of a bpftrace run. Unparseable lines are ignored. */
export function parseBpftraceOutput(stdout: string): ParsedMaps {
  const maps = new Map<string, PathCount[]>();
  let attached = false;
  const lostLines: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    let msg: { type?: string; data?: unknown };
    try {
      msg = JSON.parse(line) as { type?: string; data?: unknown };
    } catch {
      continue;
    }
    if (msg.type === "printf" && typeof msg.data === "string" && msg.data.includes("ATTACHED")) attached = true;
    if (msg.type === "lost_events" || (typeof msg.data === "string" && /lost/i.test(msg.data))) lostLines.push(line);
    if (msg.type !== "map" || msg.data === null || typeof msg.data !== "object") continue;
    for (const [name, entries] of Object.entries(msg.data as Record<string, Record<string, number>>)) {
      const byPath = new Map<string, { ok: number; failed: number }>();
      for (const [key, count] of Object.entries(entries ?? {})) {
        const comma = key.lastIndexOf(",");
        const path = comma < 0 ? key : key.slice(0, comma);
        const ok = comma < 0 ? true : key.slice(comma + 1) === "1";
        const entry = byPath.get(path) ?? { ok: 0, failed: 0 };
        if (ok) entry.ok += count;
        else entry.failed += count;
        byPath.set(path, entry);
      }
      maps.set(name, [...byPath].map(([path, c]) => ({ path, ...c })));
    }
  }
  return { maps, attached, lostLines };
}

/** Keys in a printed map (for the capacity check): distinct "path,ok" entries. */
export function mapKeyCount(stdout: string, name: string): number {
  let n = 0;
  for (const line of stdout.split("\n")) {
    if (!line.includes(`"${name}"`)) continue;
    try {
      const msg = JSON.parse(line) as { data?: Record<string, Record<string, number>> };
      n += Object.keys(msg.data?.[name] ?? {}).length;
    } catch {
      // not a map line
    }
  }
  return n;
}
