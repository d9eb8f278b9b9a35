/** Composition root of the vex service: config, telemetry, service, shutdown (see runServiceMain). */
import { runServiceMain } from "@vexxy/platform";
import { readVexConfig } from "./config.js";
import { startVexService } from "./service.js";

await runServiceMain(
  "vex",
  () => readVexConfig(),
  (config, logger) => startVexService(config, { logger }),
);
