/**
 * The sandbox driver factory: the one place that turns SANDBOX_DRIVER into an implementation
 * of the SandboxDriver seam (the composition root calls it; the stage only sees the interface).
 */
import { ConfigError } from "@vexxy/platform";
import type { SandboxConfig } from "../config.js";
import { LocalRuncDriver } from "./runc-driver.js";
import type { SandboxDriver, SandboxLimits } from "./sandbox-driver.js";

/**
 * Builds the driver SANDBOX_DRIVER names.
 * @throws ConfigError for a driver this release does not ship (kubernetes), so start-up stops
 * with the variable's name instead of a sandbox that cannot run anything.
 */
export function createSandboxDriver(
  config: Pick<SandboxConfig, "driver" | "workDir" | "runcPath" | "outputCapBytes" | "maxUnpackedBytes">,
  limits: SandboxLimits,
): SandboxDriver {
  switch (config.driver) {
    case "local":
      return new LocalRuncDriver({
        workDir: config.workDir,
        runcPath: config.runcPath,
        limits,
        outputCapBytes: config.outputCapBytes,
        maxUnpackedBytes: config.maxUnpackedBytes,
      });
    case "kubernetes":
      throw new ConfigError([
        {
          variable: "SANDBOX_DRIVER",
          value: config.driver,
          message: "SANDBOX_DRIVER=kubernetes is not built yet in this release: use local (runc on this host)",
        },
      ]);
  }
}
