/** Composition root of the reachability service: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readReachabilityConfig } from "./config.js";
import { startReachabilityService } from "./service.js";

const config = readReachabilityConfig();
const logger = createLogger("reachability", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-reachability");
const service = await startReachabilityService(config, { logger });
logger.info("listening", { port: service.port });
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("reachability", () => service.close());
