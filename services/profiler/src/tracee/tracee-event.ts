/**
 * Tracee's JSON event shape (`tracee --output json`, one event a line), the part the profiler
 * reads and writes: eventName, timestamp, process ids, cgroupId, the container id (flat
 * `containerId` in older output, `container.id` in newer), returnValue and args
 * [{name, type, value}]. The local tracer writes its records in this shape so that a run under
 * bpftrace and a Tracee stream in production feed the same ingestion path.
 */
import type { TraceResult, TraceScope } from "../tracer/tracer.js";

export interface TraceeArg {
  readonly name: string;
  readonly type: string;
  readonly value: unknown;
}

export interface TraceeEvent {
  readonly timestamp: number;
  readonly processId: number;
  readonly cgroupId: number | string;
  readonly containerId?: string;
  readonly container?: { readonly id?: string };
  readonly eventName: string;
  readonly syscall?: string;
  readonly returnValue?: number;
  readonly args: readonly TraceeArg[];
}

/** The value of a named arg, or undefined. */
export function argValue(event: TraceeEvent, name: string): unknown {
  return event.args.find((a) => a.name === name)?.value;
}

/**
 * Writes an aggregated trace as Tracee-shaped events: one event per distinct file and access
 * (not one per syscall: the kernel aggregated them), with the count in a `vexxy_count` arg.
 * Uses by identity carry Tracee's own `dev` (the kernel's major << 20 | minor) and `inode` args:
 * opens are `security_file_open`, execs `sched_process_exec`, executable mappings
 * `security_mmap_file` (prot PROT_EXEC), a script execve named the `execve` syscall event with
 * `vexxy_access` "exec_script"; the event's timestamp and processId are the first use's.
 * Path-only records (a tracer without identities): successful opens are `security_file_open`,
 * failed ones the `openat` syscall event with a negative returnValue, executions
 * `sched_process_exec`, failed execs the `execve` syscall event.
 */
export function toTraceeEvents(result: TraceResult, scope: TraceScope): TraceeEvent[] {
  const ts = result.startedAt.getTime() * 1_000_000;
  const base = { timestamp: ts, processId: 0, cgroupId: result.cgroupId.toString(), containerId: scope.containerId };
  const events: TraceeEvent[] = [];
  const USE_EVENTS = { open: "security_file_open", exec: "sched_process_exec", exec_script: "execve", mmap_exec: "security_mmap_file" } as const;
  for (const use of result.uses) {
    const args: TraceeArg[] = [
      { name: "pathname", type: "const char*", value: use.kernelPath ?? use.label },
      { name: "dev", type: "dev_t", value: use.dev },
      { name: "inode", type: "unsigned long", value: use.inode.toString() },
      { name: "vexxy_count", type: "unsigned long", value: use.count },
    ];
    if (use.access === "mmap_exec") args.push({ name: "prot", type: "int", value: 4 });
    // Tracee has no event of its own for "execve named a script": the syscall event carries it.
    if (use.access === "exec_script") args.push({ name: "vexxy_access", type: "const char*", value: "exec_script" });
    events.push({
      ...base,
      timestamp: use.firstSeenNs > 0n ? Number(use.firstSeenNs) : ts,
      processId: use.firstPid,
      eventName: USE_EVENTS[use.access],
      returnValue: 0,
      args,
    });
  }
  for (const o of result.opens) {
    if (o.ok > 0) {
      events.push({
        ...base,
        eventName: "security_file_open",
        syscall: "openat",
        returnValue: 0,
        args: [
          { name: "pathname", type: "const char*", value: o.path },
          { name: "syscall_pathname", type: "const char*", value: o.path },
          { name: "vexxy_count", type: "unsigned long", value: o.ok },
        ],
      });
    }
    if (o.failed > 0) {
      events.push({
        ...base,
        eventName: "openat",
        syscall: "openat",
        returnValue: -2,
        args: [
          { name: "pathname", type: "const char*", value: o.path },
          { name: "vexxy_count", type: "unsigned long", value: o.failed },
        ],
      });
    }
  }
  for (const e of result.execs) {
    if (e.ok > 0) {
      events.push({
        ...base,
        eventName: "sched_process_exec",
        returnValue: 0,
        args: [
          { name: "cmdpath", type: "const char*", value: e.path },
          { name: "pathname", type: "const char*", value: e.path },
          { name: "vexxy_count", type: "unsigned long", value: e.ok },
        ],
      });
    }
    if (e.failed > 0) {
      events.push({
        ...base,
        eventName: "execve",
        syscall: "execve",
        returnValue: -2,
        args: [
          { name: "pathname", type: "const char*", value: e.path },
          { name: "vexxy_count", type: "unsigned long", value: e.failed },
        ],
      });
    }
  }
  return events;
}

/** Parses JSON lines of Tracee events; lines that are not events are skipped. */
export function parseTraceeJsonLines(text: string): TraceeEvent[] {
  const events: TraceeEvent[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const e = JSON.parse(line) as TraceeEvent;
      if (typeof e.eventName === "string" && Array.isArray(e.args)) events.push(e);
    } catch {
      // not an event line
    }
  }
  return events;
}
