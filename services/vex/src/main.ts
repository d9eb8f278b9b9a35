/** Composition root of the VEX service: config, telemetry, service, shutdown. */
import { ShutdownManager, createLogger, startTelemetry } from "@vexxy/platform";
import { readVexConfig } from "./config.js";
import { startVexService } from "./service.js";

const config = readVexConfig();
const logger = createLogger("vex", { level: config.logLevel });
const telemetry = startTelemetry("vexxy-vex");
const service = await startVexService(config, { logger }).catch(async (error: unknown) => {
  logger.error("start failed", { error: error instanceof Error ? error.message : String(error), cause: error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined });
  await telemetry.shutdown();
  process.exit(1);
});
const shutdown = new ShutdownManager(logger);
shutdown.register("telemetry", () => telemetry.shutdown());
shutdown.register("vex", () => service.close());
// Only after the signal handlers are in: whoever waits for this line may stop us at once.
logger.info("listening", { port: service.port });
