/** Composition root of the orchestrator: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readOrchestratorConfig } from "./config.js";
import { startOrchestratorService } from "./service.js";

const config = readOrchestratorConfig();
const logger = createLogger("orchestrator", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-orchestrator");
const service = await startOrchestratorService(config, { logger });
logger.info("listening", { port: service.port });
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("orchestrator", () => service.close());
