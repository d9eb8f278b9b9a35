/** Composition root of the sandbox service: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readSandboxConfig } from "./config.js";
import { startSandboxService } from "./service.js";

const config = readSandboxConfig();
const logger = createLogger("sandbox", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-sandbox");
const service = await startSandboxService(config, { logger });
logger.info("listening", { port: service.port });
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("sandbox", () => service.close());
