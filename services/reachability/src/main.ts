/** Composition root of the reachability service: config, telemetry, service, shutdown (see runServiceMain). */
import { runServiceMain } from "@vexxy/platform";
import { readReachabilityConfig } from "./config.js";
import { startReachabilityService } from "./service.js";

await runServiceMain(
  "reachability",
  () => readReachabilityConfig(),
  (config, logger) => startReachabilityService(config, { logger }),
);
