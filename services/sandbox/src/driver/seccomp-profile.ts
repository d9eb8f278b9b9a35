/**
 * The seccomp profile of the local sandbox, read from the versioned JSON in
 * services/sandbox/seccomp/ (see its README for the source and our additions) and turned into
 * the OCI `linux.seccomp` object runc takes. Comments in the JSON are dropped here.
 */
import { readFileSync } from "node:fs";

/** One rule of linux.seccomp.syscalls. */
export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: string;
  readonly errnoRet?: number;
  readonly args?: ReadonlyArray<{ index: number; value: number; valueTwo?: number; op: string }>;
}

/** The OCI linux.seccomp object. */
export interface OciSeccomp {
  readonly defaultAction: string;
  readonly defaultErrnoRet: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly SeccompRule[];
}

/** The profile's file name; a widening change is a new version, never an edit. */
export const SECCOMP_PROFILE_FILE = "vexxy-sandbox-v2.json";

let cached: OciSeccomp | undefined;

/**
 * The sandbox's seccomp profile as an OCI object (read once, frozen).
 * @throws Error when the JSON file is missing or not a profile with an ERRNO default action.
 */
export function sandboxSeccomp(): OciSeccomp {
  if (cached !== undefined) return cached;
  const raw = JSON.parse(readFileSync(new URL(`../../seccomp/${SECCOMP_PROFILE_FILE}`, import.meta.url), "utf8")) as {
    defaultAction?: unknown;
    defaultErrnoRet?: unknown;
    architectures?: unknown;
    syscalls?: Array<Record<string, unknown>>;
  };
  if (raw.defaultAction !== "SCMP_ACT_ERRNO" || !Array.isArray(raw.syscalls) || !Array.isArray(raw.architectures)) {
    throw new Error(`${SECCOMP_PROFILE_FILE} is not a deny-by-default seccomp profile`);
  }
  const syscalls = raw.syscalls.map((rule) => {
    const out: Record<string, unknown> = { names: rule["names"], action: rule["action"] };
    if (rule["errnoRet"] !== undefined) out["errnoRet"] = rule["errnoRet"];
    if (rule["args"] !== undefined) out["args"] = rule["args"];
    return out as unknown as SeccompRule;
  });
  cached = Object.freeze({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: Number(raw.defaultErrnoRet ?? 1),
    architectures: raw.architectures as string[],
    syscalls,
  });
  return cached;
}
