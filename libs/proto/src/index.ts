/**
 * @vexxy/proto: the generated protobuf code of every wire contract (proto/ is the source of
 * truth; code under gen/ is written by `pnpm generate` and never edited), plus the list of
 * file descriptors that gRPC server reflection serves.
 */
import type { DescFile } from "@bufbuild/protobuf";
import { file_grpc_health_v1_health } from "./gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_vexxy_events_v1_events } from "./gen/vexxy/events/v1/events_pb.js";
import { file_vexxy_events_v1_job } from "./gen/vexxy/events/v1/job_pb.js";
import { file_vexxy_events_v1_artifacts } from "./gen/vexxy/events/v1/artifacts_pb.js";
import { file_vexxy_orchestrator_v1_orchestrator } from "./gen/vexxy/orchestrator/v1/orchestrator_pb.js";
import { file_vexxy_profiler_v1_profiler } from "./gen/vexxy/profiler/v1/profiler_pb.js";
import { file_vexxy_reachability_v1_reachability } from "./gen/vexxy/reachability/v1/reachability_pb.js";
import { file_vexxy_sandbox_v1_sandbox } from "./gen/vexxy/sandbox/v1/sandbox_pb.js";
import { file_vexxy_vex_v1_vex } from "./gen/vexxy/vex/v1/vex_pb.js";

export * from "./gen/vexxy/events/v1/job_pb.js";
export * from "./gen/vexxy/events/v1/events_pb.js";
export * from "./gen/vexxy/events/v1/artifacts_pb.js";
export * from "./gen/vexxy/orchestrator/v1/orchestrator_pb.js";
export * from "./gen/vexxy/sandbox/v1/sandbox_pb.js";
export * from "./gen/vexxy/profiler/v1/profiler_pb.js";
export * from "./gen/vexxy/reachability/v1/reachability_pb.js";
export * from "./gen/vexxy/vex/v1/vex_pb.js";
export * as healthV1 from "./gen/grpc/health/v1/health_pb.js";
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";

/** Every generated file, for building a registry (server reflection, JSON with Any). */
export const allFiles: readonly DescFile[] = Object.freeze([
  file_vexxy_events_v1_job,
  file_vexxy_events_v1_events,
  file_vexxy_events_v1_artifacts,
  file_vexxy_orchestrator_v1_orchestrator,
  file_vexxy_sandbox_v1_sandbox,
  file_vexxy_profiler_v1_profiler,
  file_vexxy_reachability_v1_reachability,
  file_vexxy_vex_v1_vex,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
]);
