/**
 * @vexxy/sandbox: runs job attempts in isolated sandboxes (runc locally) with the tracer
 * attached before start; image intake, the image catalogue, the driver seam and the service.
 */
export type {
  SandboxDriver,
  SandboxExecResult,
  SandboxHandle,
  SandboxImage,
  SandboxLimits,
  SandboxLocation,
  SandboxProcess,
  SandboxSpec,
  SandboxWaitResult,
  TraceScope,
} from "./driver/sandbox-driver.js";
export { LocalRuncDriver, type LocalRuncDriverOptions } from "./driver/runc-driver.js";
export { RuncRuntime, DEFAULT_LIMITS, type RuncContainer, type RuncContainerSpec, type RuncRuntimeOptions } from "./driver/runc-runtime.js";
export { detectCgroupLayout, cgroupV2PathFor, controllerPathFor, allCgroupDirsFor, type CgroupLayout, type CgroupLayoutKind } from "./driver/cgroup-layout.js";
export { containerIdFor, isOurContainerId, CONTAINER_ID_PREFIX } from "./driver/container-id.js";
export { buildOciConfig, MASKED_PATHS, READONLY_PATHS, type OciConfig, type OciConfigInput } from "./driver/oci-config.js";
export {
  InvalidSandboxSpecError,
  RuncCommandError,
  SandboxCreateAbortedError,
  SandboxDriverError,
  SandboxNotFoundError,
  SandboxRefusedError,
} from "./driver/driver-errors.js";
export { ProfilerTraceAttacher, type AttachedTrace, type TraceAttacher, type TraceRequest } from "./trace-attacher.js";
export { workloadProcess } from "./driver/workload-process.js";
export { ImageProcessError, SandboxJobNotFoundError, SandboxStageError, TraceNotAttachedError } from "./errors.js";
export { readSandboxConfig, type SandboxConfig } from "./config.js";
export { startSandboxService, type RunningSandbox, type SandboxOverrides } from "./service.js";
export { SANDBOX_STAGE, catalogueKey, SandboxAttemptStore } from "./store/sandbox-attempts.js";
export { prepareImage, ImageIntakeError, type PreparedImage, type PrepareImageOptions } from "./image/index.js";
export { buildCatalogue, serializeCatalogue, parseCatalogue } from "./catalogue/index.js";
