/** The sandbox driver factory: SANDBOX_DRIVER picks the implementation in the composition root. */
import { strict as assert } from "node:assert";
import { ConfigError } from "@vexxy/platform";
import { readSandboxConfig } from "../src/config.js";
import { createSandboxDriver } from "../src/driver/create-sandbox-driver.js";
import { LocalRuncDriver } from "../src/driver/runc-driver.js";

const limits = { memoryBytes: 64 * 1024 ** 2, pids: 64, cpus: 1 };
const base = { DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: "factory-test-internal-token-of-forty-chars", SANDBOX_WORK_DIR: "/tmp/vexxy-factory-test" };

describe("sandbox driver factory", () => {
  it("builds the runc driver for SANDBOX_DRIVER=local (the default)", () => {
    assert.ok(createSandboxDriver(readSandboxConfig(base), limits) instanceof LocalRuncDriver);
    assert.ok(createSandboxDriver(readSandboxConfig({ ...base, SANDBOX_DRIVER: "local" }), limits) instanceof LocalRuncDriver);
  });

  it("stops start-up with a ConfigError naming SANDBOX_DRIVER and saying kubernetes is not built yet in this release", () => {
    const config = readSandboxConfig({ ...base, SANDBOX_DRIVER: "kubernetes" });
    assert.throws(
      () => createSandboxDriver(config, limits),
      (error: unknown) => error instanceof ConfigError && error.variable === "SANDBOX_DRIVER" && /not built yet in this release/.test(error.message),
    );
  });
});
