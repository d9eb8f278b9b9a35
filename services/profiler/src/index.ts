/** @vexxy/profiler: the tracer seam, the bpftrace and strace tracers, Tracee-shaped ingestion and the ProfilerService. */
export { startProfilerService, type RunningProfiler, type ProfilerOverrides } from "./service.js";
export { readProfilerConfig, type ProfilerConfig } from "./config.js";
export type {
  Tracer,
  TraceSession,
  TraceScope,
  TraceScopeKind,
  TraceOwner,
  HostCgroupScope,
  ContainerScope,
  TraceResult,
  PathCount,
  TracedUse,
  ChannelAttempt,
  TraceDiagnostics,
  UseAccess,
} from "./tracer/tracer.js";
export { BpftraceTracer, ensureTracefs, cgroupLevel } from "./tracer/bpftrace-tracer.js";
export { StraceTracer, StraceTraceState, type StraceOptions } from "./tracer/strace-tracer.js";
export { StraceLineParser, decodeHex, type StraceRecord, type StraceSyscall } from "./tracer/strace-output.js";
export { ProcRootView, kernelDev, type KernelIdentity } from "./tracer/proc-root-view.js";
export { createTracer } from "./tracer/create-tracer.js";
export { bpftraceScript, UNTRACED_CHANNELS, type ScriptScope } from "./tracer/bpftrace-script.js";
export { parseIdentityOutput, type ParsedTrace } from "./tracer/bpftrace-output.js";
export { toTraceeEvents, parseTraceeJsonLines, type TraceeEvent } from "./tracee/tracee-event.js";
export { buildProfile, type ProfileContext } from "./ingest/build-profile.js";
export { profileFromTrace, type TracedRun } from "./ingest/profile-from-trace.js";
export { TracerAttachError } from "./errors.js";
