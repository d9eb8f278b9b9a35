/**
 * @vexxy/stage: what every stage of the mesh shares: the lifecycle of a job attempt in a stage
 * (claim, replay, work, record, publish), its one failure type, the typed view of its ledger
 * rows, and the wiring of a service.
 */
export { StageCancelled, StageFailure } from "./stage-failure.js";
export { viewOf, type ProgressCodec, type StageRecordFormat, type StageView } from "./stage-record.js";
export {
  StageLifecycle,
  analysisFailedPublisher,
  usableJob,
  type FailurePublisher,
  type OnStarted,
  type StageContext,
  type StageDeps,
  type StageLogger,
  type StageRunResult,
  type StageSpec,
} from "./stage-lifecycle.js";
export {
  startMeshService,
  type MeshAssembly,
  type MeshOverrides,
  type MeshParts,
  type MeshServiceDefinition,
  type RunningMeshService,
} from "./start-mesh-service.js";
