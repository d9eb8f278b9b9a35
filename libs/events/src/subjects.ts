/**
 * Every stream, subject and durable consumer name of the mesh, in one place.
 * Payloads are protobuf messages of vexxy.events.v1 (see EVENT_SCHEMAS).
 */
export const STREAM_NAME = "VEXXY";
export const STREAM_SUBJECTS = ["vexxy.>"] as const;

export const Subjects = {
  analysisRequested: "vexxy.analysis.requested",
  analysisCancelled: "vexxy.analysis.cancelled",
  analysisFailed: "vexxy.analysis.failed",
  sandboxStarted: "vexxy.sandbox.started",
  sandboxCompleted: "vexxy.sandbox.completed",
  sandboxFailed: "vexxy.sandbox.failed",
  profileReady: "vexxy.profile.ready",
  reachabilityScored: "vexxy.reachability.scored",
  vexSigned: "vexxy.vex.signed",
} as const;

export type Subject = (typeof Subjects)[keyof typeof Subjects];

/** Durable consumer names, one per consuming service. */
export const Durables = {
  orchestrator: "orchestrator",
  sandbox: "sandbox",
  profiler: "profiler",
  reachability: "reachability",
  vex: "vex",
} as const;
