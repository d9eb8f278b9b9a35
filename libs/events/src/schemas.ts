/** Which vexxy.events.v1 message travels on which subject. */
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  AnalysisCancelledSchema,
  AnalysisFailedSchema,
  AnalysisRequestedSchema,
  ProfileReadySchema,
  ReachabilityScoredSchema,
  SandboxCompletedSchema,
  SandboxFailedSchema,
  SandboxStartedSchema,
  VexSignedSchema,
  type AnalysisCancelled,
  type AnalysisFailed,
  type AnalysisRequested,
  type ProfileReady,
  type ReachabilityScored,
  type SandboxCompleted,
  type SandboxFailed,
  type SandboxStarted,
  type VexSigned,
} from "@vexxy/proto";
import { Subjects, type Subject } from "./subjects.js";

interface PayloadBySubject {
  [Subjects.analysisRequested]: AnalysisRequested;
  [Subjects.analysisCancelled]: AnalysisCancelled;
  [Subjects.analysisFailed]: AnalysisFailed;
  [Subjects.sandboxStarted]: SandboxStarted;
  [Subjects.sandboxCompleted]: SandboxCompleted;
  [Subjects.sandboxFailed]: SandboxFailed;
  [Subjects.profileReady]: ProfileReady;
  [Subjects.reachabilityScored]: ReachabilityScored;
  [Subjects.vexSigned]: VexSigned;
}

/** The payload type of a subject. */
export type EventPayload<S extends Subject> = PayloadBySubject[S];

/** The schema of each subject's payload, for encoding and decoding. */
export const EVENT_SCHEMAS: { readonly [S in Subject]: GenMessage<PayloadBySubject[S]> } = Object.freeze({
  [Subjects.analysisRequested]: AnalysisRequestedSchema,
  [Subjects.analysisCancelled]: AnalysisCancelledSchema,
  [Subjects.analysisFailed]: AnalysisFailedSchema,
  [Subjects.sandboxStarted]: SandboxStartedSchema,
  [Subjects.sandboxCompleted]: SandboxCompletedSchema,
  [Subjects.sandboxFailed]: SandboxFailedSchema,
  [Subjects.profileReady]: ProfileReadySchema,
  [Subjects.reachabilityScored]: ReachabilityScoredSchema,
  [Subjects.vexSigned]: VexSignedSchema,
});

/** The schema of subject's payload, typed by the subject (for generic code over subjects). */
export function schemaOf<S extends Subject>(subject: S): GenMessage<EventPayload<S>> {
  // EVENT_SCHEMAS is keyed so that each subject maps to its own payload's schema.
  return EVENT_SCHEMAS[subject] as GenMessage<EventPayload<S>>;
}

/** The Nats-Msg-Id for one stage's event of one job attempt: stable across redelivery. */
export function eventMsgId(subject: Subject, jobId: string, attempt: number): string {
  return `${subject}:${jobId}:${attempt}`;
}
