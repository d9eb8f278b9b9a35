/**
 * Parses bpftrace's `-f json` output of the identity script: one JSON object a line; each map
 * arrives once at END as {"type":"map","data":{"@name":{"k1,k2,k3":value}}} (a scalar map as
 * {"@name": value}). A map that was never written is not printed at all.
 */
import { ACCESS_CODES, channelName, IDENTITY_MAPS } from "./bpftrace-script.js";
import type { ChannelAttempt, TracedUse, UseAccess } from "./tracer.js";

export interface ParsedTrace {
  readonly attached: boolean;
  readonly uses: TracedUse[];
  readonly channelAttempts: ChannelAttempt[];
  /** Events of tasks nested too deep below the sandbox's cgroup to be placed. */
  readonly tooDeep: number;
  /** Moves of tasks out of the sandbox's cgroup subtree. */
  readonly leftScope: number;
  /** Which maps were printed, and how many keys each held (for the capacity check). */
  readonly mapKeys: ReadonlyMap<string, number>;
  /** Lines bpftrace printed about lost events, if any. */
  readonly lostLines: readonly string[];
  /** Lines that were not JSON (a map in them is lost), apart from the @name labels. */
  readonly unparseableLines: number;
}

const ACCESS_BY_CODE = new Map<number, UseAccess>(Object.entries(ACCESS_CODES).map(([name, code]) => [code, name as UseAccess]));

type MapData = Record<string, unknown>;

/** Parses the whole stdout of a run; bpftrace's @t0 (boot-clock ns) maps first uses to wall-clock ns from startedAtMs. */
export function parseIdentityOutput(stdout: string, startedAtMs: number, arch: string = process.arch): ParsedTrace {
  let attached = false;
  const lostLines: string[] = [];
  const maps = new Map<string, unknown>();
  let unparseableLines = 0;
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    let msg: { type?: string; data?: unknown };
    try {
      msg = JSON.parse(line) as { type?: string; data?: unknown };
    } catch {
      // A label with bytes bpftrace cannot escape must not cost the evidence: only @name may be lost.
      if (!line.includes('"@name"')) unparseableLines += 1;
      continue;
    }
    if (msg.type === "printf" && typeof msg.data === "string" && msg.data.includes("ATTACHED")) attached = true;
    if (msg.type === "lost_events" || (msg.type !== "map" && typeof msg.data === "string" && /lost/i.test(msg.data))) lostLines.push(line);
    if (msg.type !== "map" || msg.data === null || typeof msg.data !== "object") continue;
    for (const [name, value] of Object.entries(msg.data as MapData)) maps.set(name, value);
  }
  const entries = (name: string): [string, unknown][] => {
    const value = maps.get(name);
    return value !== null && typeof value === "object" ? Object.entries(value as MapData) : [];
  };
  const first = new Map(entries("@first"));
  const firstPid = new Map(entries("@fpid"));
  const names = new Map(entries("@name"));
  const t0 = typeof maps.get("@t0") === "number" ? BigInt(maps.get("@t0") as number) : undefined;
  const uses: TracedUse[] = [];
  for (const [key, count] of entries("@use")) {
    const [code, dev, inode] = key.split(",");
    const access = ACCESS_BY_CODE.get(Number(code));
    if (access === undefined || dev === undefined || inode === undefined || !/^\d+$/.test(dev) || !/^\d+$/.test(inode)) continue;
    const firstBoot = typeof first.get(key) === "number" ? BigInt(first.get(key) as number) : 0n;
    uses.push({
      access,
      dev: Number(dev),
      inode: BigInt(inode),
      label: typeof names.get(key) === "string" ? (names.get(key) as string) : "",
      count: typeof count === "number" ? count : 0,
      firstSeenNs: t0 !== undefined && firstBoot > 0n ? BigInt(startedAtMs) * 1_000_000n + (firstBoot - t0) : 0n,
      firstPid: typeof firstPid.get(key) === "number" ? (firstPid.get(key) as number) : 0,
    });
  }
  const byChannel = new Map<string, { succeeded: number; failed: number }>();
  for (const [key, count] of entries("@chan")) {
    const comma = key.lastIndexOf(",");
    const nr = comma < 0 ? key : key.slice(0, comma);
    const syscall = channelName(arch, Number(nr)) ?? `syscall#${nr}`;
    const entry = byChannel.get(syscall) ?? { succeeded: 0, failed: 0 };
    if (key.slice(comma + 1) === "1") entry.succeeded += Number(count);
    else entry.failed += Number(count);
    byChannel.set(syscall, entry);
  }
  const mapKeys = new Map<string, number>();
  for (const name of IDENTITY_MAPS) if (maps.has(name)) mapKeys.set(name, entries(name).length);
  const deep = maps.get("@deep");
  const left = maps.get("@left");
  return {
    attached,
    uses,
    channelAttempts: [...byChannel].map(([syscall, c]) => ({ syscall, ...c })).sort((a, b) => a.syscall.localeCompare(b.syscall)),
    tooDeep: typeof deep === "number" ? deep : 0,
    leftScope: typeof left === "number" ? left : 0,
    mapKeys,
    lostLines,
    unparseableLines,
  };
}
