/** Composition root of the profiler service: config, telemetry, service, shutdown (see runServiceMain). */
import { runServiceMain } from "@vexxy/platform";
import { readProfilerConfig } from "./config.js";
import { startProfilerService } from "./service.js";

await runServiceMain(
  "profiler",
  () => readProfilerConfig(),
  (config, logger) => startProfilerService(config, { logger }),
);
