/**
 * Ingestion: Tracee-shaped events -> the ExecutionProfile artifact. Reads the events that
 * show a file was opened, mapped, loaded or executed (security_file_open, shared_object_loaded,
 * security_mmap_file, vfs_read, sched_process_exec, and the open, openat, creat and execve syscall events with
 * their return value); keeps the events of one container only; paths that are not absolute go
 * to unresolved_relative_opens, never into the resolved set.
 */
import { create } from "@bufbuild/protobuf";
import { ExecutionProfileSchema, FileAccessSchema, WorkloadOutcome, type ExecutionProfile, type FileAccess } from "@vexxy/proto";
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
    const target = raw.startsWith("/") ? files : relative;
    const key = `${access}\u0000${raw}`;
    const entry = target.get(key) ?? create(FileAccessSchema, { path: raw, access, firstSeenNs: BigInt(e.timestamp), firstPid: e.processId });
    if (ok) entry.countOk += count;
    else entry.countFailed += count;
    target.set(key, entry);
  }
  const lossReasons = [...ctx.lossReasons];
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
  });
}
