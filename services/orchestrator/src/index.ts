/** @vexxy/orchestrator: the public AnalysisService and the job lifecycle. */
export { startOrchestratorService, type RunningOrchestrator, type OrchestratorOverrides } from "./service.js";
export { readOrchestratorConfig, type OrchestratorConfig } from "./config.js";
export { validateSubmit, type ValidSubmit } from "./submit-validation.js";
export { JobLifecycle, type LifecycleSettings } from "./job-lifecycle.js";
export { JobStore } from "./store/job-store.js";
export { QuotaStore } from "./store/quota-store.js";
export type { OrchestratorAuthConfig } from "./config.js";
