/** Composition root of the profiler: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readProfilerConfig } from "./config.js";
import { startProfilerService } from "./service.js";

const config = readProfilerConfig();
const logger = createLogger("profiler", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-profiler");
const service = await startProfilerService(config, { logger });
logger.info("listening", { port: service.port });
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("profiler", () => service.close());
