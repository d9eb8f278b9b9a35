/** Composition root of the orchestrator service: config, telemetry, service, shutdown (see runServiceMain). */
import { runServiceMain } from "@vexxy/platform";
import { readOrchestratorConfig } from "./config.js";
import { startOrchestratorService } from "./service.js";

await runServiceMain(
  "orchestrator",
  () => readOrchestratorConfig(),
  (config, logger) => startOrchestratorService(config, { logger }),
);
