/**
 * The body every service's main.ts shares: read the config (a bad variable stops start-up
 * with its name, exit 2), start telemetry, install the signal handlers BEFORE starting (a
 * launcher that stops the service right after "listening" must get a graceful shutdown, not
 * Node's default SIGTERM death), start the service (a failure is logged, exit 1), then log
 * "listening" with the port.
 */
import { ConfigError } from "./config.js";
import { createLogger, type Logger } from "./logger.js";
import { ShutdownManager } from "./shutdown.js";
import { startTelemetry } from "./telemetry.js";

export interface RunnableService {
  readonly port: number;
  close(): Promise<void>;
}

/** Runs a service process until a signal stops it. */
export async function runServiceMain<C extends { readonly logLevel: string }>(
  name: string,
  readConfig: () => C,
  start: (config: C, logger: Logger) => Promise<RunnableService>,
): Promise<void> {
  let config: C;
  try {
    config = readConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(name, { level: config.logLevel as never });
  const telemetry = startTelemetry(`vexxy-${name}`);
  const shutdown = new ShutdownManager(logger);
  shutdown.register("telemetry", () => telemetry.shutdown());
  let service: RunnableService;
  try {
    service = await start(config, logger);
  } catch (err) {
    logger.error("start failed", {
      error: err instanceof Error ? err.message : String(err),
      cause: err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined,
    });
    await telemetry.shutdown().catch(() => undefined);
    process.exit(1);
  }
  shutdown.register(name, () => service.close());
  logger.info("listening", { port: service.port });
}
