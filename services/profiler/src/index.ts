/** @vexxy/profiler: the tracer seam, the bpftrace tracer, Tracee-shaped ingestion and the ProfilerService. */
export { startProfilerService, type RunningProfiler, type ProfilerOverrides } from "./service.js";
export { readProfilerConfig, type ProfilerConfig } from "./config.js";
export type { Tracer, TraceSession, TraceScope, TraceResult, PathCount, TracedUse, ChannelAttempt, TraceDiagnostics, UseAccess } from "./tracer/tracer.js";
export { BpftraceTracer, ensureTracefs, cgroupLevel } from "./tracer/bpftrace-tracer.js";
export { bpftraceScript, UNTRACED_CHANNELS, type ScriptScope } from "./tracer/bpftrace-script.js";
export { parseIdentityOutput, type ParsedTrace } from "./tracer/bpftrace-output.js";
export { toTraceeEvents, parseTraceeJsonLines, type TraceeEvent } from "./tracee/tracee-event.js";
export { buildProfile, type ProfileContext } from "./ingest/build-profile.js";
export { TracerAttachError } from "./errors.js";
