/** Composition root of the sandbox service: config, telemetry, service, shutdown (see runServiceMain). */
import { runServiceMain } from "@vexxy/platform";
import { readSandboxConfig } from "./config.js";
import { startSandboxService } from "./service.js";

await runServiceMain(
  "sandbox",
  () => readSandboxConfig(),
  (config, logger) => startSandboxService(config, { logger }),
);
