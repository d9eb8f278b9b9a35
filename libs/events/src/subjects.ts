/**
 * Every stream, subject and durable consumer name of the mesh, in one place.
 * Payloads are protobuf messages of vexxy.events.v1 (see EVENT_SCHEMAS).
 */
/** The default stream name (NATS_STREAM overrides it; tests use a random one on their own server). */
export const STREAM_NAME = "VEXXY";
/**
 * The stream's subjects. Fixed, so JetStream allows one mesh stream per nats-server (streams may
 * not overlap); see stream-setup.ts.
 */
export const STREAM_SUBJECTS = ["vexxy.>"] as const;

/** Every event subject of the mesh. */
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

/** One of Subjects. */
export type Subject = (typeof Subjects)[keyof typeof Subjects];

/** Durable consumer names, one per consuming service. */
export const Durables = {
  orchestrator: "orchestrator",
  sandbox: "sandbox",
  profiler: "profiler",
  reachability: "reachability",
  vex: "vex",
} as const;
