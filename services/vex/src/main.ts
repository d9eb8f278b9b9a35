/** Composition root of the VEX service: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readVexConfig } from "./config.js";
import { startVexService } from "./service.js";

const config = readVexConfig();
const logger = createLogger("vex", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-vex");
const service = await startVexService(config, { logger });
logger.info("listening", { port: service.port });
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("vex", () => service.close());
