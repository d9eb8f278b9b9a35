/**
 * Ingestion: Tracee-shaped events -> the ExecutionProfile artifact. Reads the events that
 * show a file was opened, mapped, loaded or executed (security_file_open, shared_object_loaded,
 * security_mmap_file, vfs_read, sched_process_exec, and the open, openat, creat and execve syscall events with
 * their return value); keeps the events of one container only; paths that are not absolute go
 * to unresolved_relative_opens, never into the resolved set.
 *
 * With an identity mode (ProfileContext.identity), every successful use also becomes a FileUse
 * keyed by the file the kernel used: Tracee's own `dev` (major << 20 | minor) and `inode` args
 * give its identity; a use without them (or with 0, 0) keeps no identity, which reachability
 * refuses to attribute in an "inode" profile. Executable mappings are security_mmap_file
 * events whose prot has PROT_EXEC; other mappings are reads.
 */
import { create } from "@bufbuild/protobuf";
import {
  ExecutionProfileSchema,
  FileAccessSchema,
  FileIdentitySchema,
  FileUseSchema,
  SyscallAttemptSchema,
  TracerDiagnosticsSchema,
  type WorkloadOutcome,
  type ExecutionProfile,
  type FileAccess,
  type FileUse,
} from "@vexxy/proto";
import type { ChannelAttempt, TraceDiagnostics } from "../tracer/tracer.js";
import { argValue, type TraceeEvent } from "../tracee/tracee-event.js";

const OPEN_EVENTS = new Set(["security_file_open", "shared_object_loaded", "security_mmap_file", "vfs_read", "open", "openat", "openat2", "creat"]);
const EXEC_EVENTS = new Set(["sched_process_exec", "execve", "execveat"]);

export interface ProfileContext {
  readonly jobId: string;
  readonly attempt: number;
  readonly tracer: string;
  readonly containerId: string;
  readonly lossReasons: readonly string[];
  readonly outcome: WorkloadOutcome;
  readonly durationSeconds: number;
  /** "inode" (the local tracer: identities comparable with the catalogue), "kernel_path" (Tracee over an overlay), or "" (paths only). */
  readonly identity?: "inode" | "kernel_path" | "";
  readonly untracedChannelAttempts?: readonly ChannelAttempt[];
  readonly diagnostics?: TraceDiagnostics;
}

const PROT_EXEC = 4;
/** Bytes in a bpftrace string including its NUL: a label this long may have been cut. */
const LABEL_LIMIT = 200;

function useAccessOf(e: TraceeEvent): "open" | "exec" | "exec_script" | "mmap_exec" | undefined {
  if (argValue(e, "vexxy_access") === "exec_script" && EXEC_EVENTS.has(e.eventName)) return "exec_script";
  if (e.eventName === "security_mmap_file") return (Number(argValue(e, "prot") ?? 0) & PROT_EXEC) !== 0 ? "mmap_exec" : "open";
  if (EXEC_EVENTS.has(e.eventName)) return "exec";
  return OPEN_EVENTS.has(e.eventName) ? "open" : undefined;
}

function identityOf(e: TraceeEvent): { devMajor: number; devMinor: number; inode: bigint } | undefined {
  const dev = argValue(e, "dev");
  const inode = argValue(e, "inode");
  if ((typeof dev !== "number" && typeof dev !== "string") || (typeof inode !== "number" && typeof inode !== "string")) return undefined;
  if (!/^\d+$/.test(String(dev)) || !/^\d+$/.test(String(inode))) return undefined;
  const d = BigInt(dev);
  const ino = BigInt(inode);
  if (d === 0n && ino === 0n) return undefined;
  return { devMajor: Number(d >> 20n), devMinor: Number(d & 0xfffffn), inode: ino };
}

/** The FileUses of the events (successful uses only), one per access and identity (or label). */
function buildUses(events: readonly TraceeEvent[], containerId: string): FileUse[] {
  const uses = new Map<string, FileUse>();
  for (const e of events) {
    if (containerId !== "" && containerOf(e) !== "" && containerOf(e) !== containerId) continue;
    if ((e.returnValue ?? 0) < 0) continue;
    const access = useAccessOf(e);
    if (access === undefined) continue;
    const raw = argValue(e, "pathname") ?? argValue(e, "syscall_pathname") ?? argValue(e, "cmdpath");
    const label = typeof raw === "string" ? raw : "";
    const id = identityOf(e);
    const key = id !== undefined ? `${access}\u0000${id.devMajor}:${id.devMinor}:${id.inode}` : `${access}\u0000\u0001${label}`;
    const count = BigInt(Number(argValue(e, "vexxy_count") ?? 1));
    const existing = uses.get(key);
    if (existing !== undefined) {
      existing.count += count;
      if (BigInt(e.timestamp) < existing.firstSeenNs) {
        existing.firstSeenNs = BigInt(e.timestamp);
        existing.firstPid = e.processId;
      }
      continue;
    }
    uses.set(
      key,
      create(FileUseSchema, {
        ...(id !== undefined ? { id: create(FileIdentitySchema, id) } : {}),
        path: label,
        access,
        count,
        firstSeenNs: BigInt(e.timestamp),
        firstPid: e.processId,
        pathTruncated: Buffer.byteLength(label) >= LABEL_LIMIT - 1 || label.includes("\uffff"),
      }),
    );
  }
  return [...uses.values()].sort((a, b) => a.access.localeCompare(b.access) || a.path.localeCompare(b.path));
}

function containerOf(e: TraceeEvent): string {
  return e.container?.id ?? e.containerId ?? "";
}

/** Builds the profile; `complete` is true only when nothing was lost. */
export function buildProfile(events: readonly TraceeEvent[], ctx: ProfileContext): ExecutionProfile {
  const files = new Map<string, FileAccess>();
  const relative = new Map<string, FileAccess>();
  let total = 0n;
  for (const e of events) {
    if (ctx.containerId !== "" && containerOf(e) !== "" && containerOf(e) !== ctx.containerId) continue;
    const access = OPEN_EVENTS.has(e.eventName) ? "open" : EXEC_EVENTS.has(e.eventName) ? "exec" : undefined;
    if (access === undefined) continue;
    const raw = argValue(e, "pathname") ?? argValue(e, "syscall_pathname") ?? argValue(e, "cmdpath");
    if (typeof raw !== "string" || raw === "") continue;
    const count = BigInt(Number(argValue(e, "vexxy_count") ?? 1));
    const ok = (e.returnValue ?? 0) >= 0;
    total += count;
    // An "inode" trace's labels are last path components, not paths: its uses are the record.
    if (ctx.identity === "inode") continue;
    const target = raw.startsWith("/") ? files : relative;
    const key = `${access}\u0000${raw}`;
    const entry = target.get(key) ?? create(FileAccessSchema, { path: raw, access, firstSeenNs: BigInt(e.timestamp), firstPid: e.processId });
    if (ok) entry.countOk += count;
    else entry.countFailed += count;
    target.set(key, entry);
  }
  const lossReasons = [...ctx.lossReasons];
  const identity = ctx.identity ?? "";
  const d = ctx.diagnostics;
  return create(ExecutionProfileSchema, {
    jobId: ctx.jobId,
    attempt: ctx.attempt,
    tracer: ctx.tracer,
    complete: lossReasons.length === 0,
    lossReasons,
    outcome: ctx.outcome,
    durationSeconds: ctx.durationSeconds,
    files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)),
    unresolvedRelativeOpens: [...relative.values()].sort((a, b) => a.path.localeCompare(b.path)),
    eventsTraced: total,
    identity,
    uses: identity !== "" ? buildUses(events, ctx.containerId) : [],
    untracedChannelAttempts: (ctx.untracedChannelAttempts ?? []).map((a) =>
      create(SyscallAttemptSchema, { syscall: a.syscall, succeeded: BigInt(a.succeeded), failed: BigInt(a.failed) }),
    ),
    ...(d !== undefined
      ? {
          diagnostics: create(TracerDiagnosticsSchema, {
            exit: d.exit,
            stderrTail: d.stderrTail,
            attachSeconds: d.attachSeconds,
            stopSeconds: d.stopSeconds,
            filteredCgroupId: d.filteredCgroupId,
            containerCgroupId: d.containerCgroupId,
            outputBytes: BigInt(d.outputBytes),
          }),
        }
      : {}),
  });
}
