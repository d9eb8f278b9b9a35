/**
 * Parses strace's output as the strace tracer runs it: `-f -ttt -y -xx -o <file>`, so every
 * line starts with the pid and a wall-clock time, every string and every fd's path (`-y`,
 * resolved by the kernel through /proc/PID/fd) is hex-escaped (`-xx`: no quoting ambiguity,
 * whatever bytes a name holds), and a syscall that another task interrupted arrives in two
 * lines (`<unfinished ...>`, then `<... name resumed>`) which are joined here.
 */

/** One finished syscall of one task. */
export interface StraceSyscall {
  readonly kind: "syscall";
  readonly pid: number;
  /** Wall-clock nanoseconds since the epoch (microsecond resolution). */
  readonly timeNs: bigint;
  readonly name: string;
  /** The arguments as printed (strings hex-escaped). */
  readonly args: string;
  /** The return value: a number, or undefined when strace printed "?" (the task died inside it). */
  readonly ret: bigint | undefined;
  /** The path of a returned fd (`= 3</etc/passwd>`), when it is one. */
  readonly retPath: string | undefined;
  /** Whether the call's start was lost (a resume without its unfinished half): its arguments are unknown. */
  readonly argsLost: boolean;
}

/** A task ended: exited, was killed, or was superseded by another thread's execve. */
export interface StraceTaskEnd {
  readonly kind: "end";
  readonly pid: number;
  readonly timeNs: bigint;
  readonly how: string;
}

/** A line this parser does not understand (its content may be lost evidence). */
export interface StraceUnparsed {
  readonly kind: "unparsed";
  readonly line: string;
}

export type StraceRecord = StraceSyscall | StraceTaskEnd | StraceUnparsed;

const LINE = /^(\d+) +(\d+)\.(\d{6}) (.*)$/;
const HEX_BYTES = /^(?:\\x[0-9a-f]{2})*$/;

/** Decodes strace's `-xx` hex escapes ("\x2f\x65") to a string (bytes that are not UTF-8 become U+FFFD). */
export function decodeHex(hex: string): string | undefined {
  if (!HEX_BYTES.test(hex)) return undefined;
  return Buffer.from(hex.replace(/\\x/g, ""), "hex").toString("utf8");
}

/** The first string argument ("\x2f...") of `args`, decoded; `truncated` when strace cut it (`"...`). */
export function firstStringArg(args: string): { value: string; truncated: boolean } | undefined {
  const m = /"((?:\\x[0-9a-f]{2})*)"(\.\.\.)?/.exec(args);
  if (m === null) return undefined;
  const value = decodeHex(m[1] ?? "");
  return value === undefined ? undefined : { value, truncated: m[2] !== undefined };
}

/** The top-level, comma-separated arguments (hex strings hold no commas; arrays and structs are kept whole). */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (c === "[" || c === "{" || c === "(") depth += 1;
    else if (c === "]" || c === "}" || c === ")") depth -= 1;
    else if (c === "," && depth === 0) {
      out.push(args.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = args.slice(start).trim();
  if (last !== "" || out.length > 0) out.push(last);
  return out;
}

/** The path `-y` attached to an fd argument (`3<\x2f...>`, `AT_FDCWD<\x2f...>`), or undefined (no path: a pipe, a socket, -1). */
export function fdPath(arg: string): string | undefined {
  const m = /^(?:-?\d+|AT_FDCWD)<((?:\\x[0-9a-f]{2})+)>$/.exec(arg.trim());
  return m === null ? undefined : decodeHex(m[1] ?? "");
}

function parseReturn(text: string): { ret: bigint | undefined; retPath: string | undefined } | undefined {
  const m = /^(-?\d+|0x[0-9a-f]+|\?)(?:<((?:\\x[0-9a-f]{2})+)>|<[^>]*>)?(?: |$)/.exec(text);
  if (m === null) return undefined;
  const raw = m[1] ?? "?";
  return { ret: raw === "?" ? undefined : BigInt(raw), retPath: m[2] !== undefined ? decodeHex(m[2]) : undefined };
}

/** Turns lines into records, joining each task's unfinished syscall with its resumption. */
export class StraceLineParser {
  private readonly pending = new Map<number, string>();

  /** Parses one line (without its newline); undefined for a line that only opens an unfinished call or carries nothing. */
  push(line: string): StraceRecord | undefined {
    if (line.trim() === "") return undefined;
    const m = LINE.exec(line);
    if (m === null) return { kind: "unparsed", line };
    const pid = Number(m[1]);
    const timeNs = BigInt(m[2] ?? "0") * 1_000_000_000n + BigInt(m[3] ?? "0") * 1000n;
    let rest = m[4] ?? "";
    if (rest.startsWith("+++ ")) return { kind: "end", pid, timeNs, how: rest.replace(/^\+\+\+ | \+\+\+$/g, "") };
    if (rest.startsWith("--- ")) return undefined;
    let argsLost = false;
    const resumed = /^<\.\.\. ([a-z0-9_]+) resumed>(.*)$/.exec(rest);
    if (resumed !== null) {
      const head = this.pending.get(pid);
      this.pending.delete(pid);
      if (head === undefined) {
        argsLost = true;
        rest = `${resumed[1]}(${resumed[2] ?? ""}`;
      } else {
        rest = head + (resumed[2] ?? "");
      }
    }
    const unfinished = / <unfinished \.\.\.>\)?$/.exec(rest);
    if (unfinished !== null) {
      this.pending.set(pid, rest.slice(0, unfinished.index));
      return undefined;
    }
    const call = /^([a-z0-9_]+)\((.*)$/.exec(rest);
    if (call === null) return { kind: "unparsed", line };
    const body = call[2] ?? "";
    // strace pads short calls to align the "=" column: ") = ", ")  = ", ...
    let eq: RegExpExecArray | undefined;
    for (const m of body.matchAll(/\) += /g)) eq = m;
    if (eq === undefined) return { kind: "unparsed", line };
    const parsed = parseReturn(body.slice(eq.index + eq[0].length));
    if (parsed === undefined) return { kind: "unparsed", line };
    return { kind: "syscall", pid, timeNs, name: call[1] ?? "", args: body.slice(0, eq.index), ret: parsed.ret, retPath: parsed.retPath, argsLost };
  }

  /** Tasks with a syscall still unfinished (at the end of a trace: calls that never returned). */
  unfinished(): number[] {
    return [...this.pending.keys()];
  }
}
