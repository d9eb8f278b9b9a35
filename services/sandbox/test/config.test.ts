import assert from "node:assert/strict";
import { ConfigError } from "@vexxy/platform";
import { readSandboxConfig } from "../src/config.js";
import { TEST_INTERNAL_TOKEN } from "@vexxy/testkit";

describe("sandbox configuration", () => {
  it("applies the documented defaults (4 GiB, 512 pids, 1 CPU, profiler on 50053, 15 s attach deadline)", () => {
    const config = readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN });
    assert.equal(config.port, 50052);
    assert.equal(config.memoryBytes, 4 * 1024 ** 3);
    assert.equal(config.pids, 512);
    assert.equal(config.cpus, 1);
    assert.equal(config.profilerUrl, "http://127.0.0.1:50053");
    assert.equal(config.traceAttachTimeoutMs, 15000);
    assert.equal(config.workDir, "/var/lib/vexxy/sandbox");
    assert.equal(config.outputCapBytes, 4 * 1024 ** 2);
    assert.ok(Object.isFrozen(config));
  });

  it("takes SANDBOX_OUTPUT_CAP_BYTES and refuses one below 4 KiB, naming the variable", () => {
    assert.equal(
      readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_OUTPUT_CAP_BYTES: "65536" }).outputCapBytes,
      65536,
    );
    assert.throws(
      () => readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_OUTPUT_CAP_BYTES: "10" }),
      (error: unknown) => error instanceof ConfigError && error.variable === "SANDBOX_OUTPUT_CAP_BYTES",
    );
  });

  it("accepts fractional SANDBOX_CPUS and refuses a malformed one naming the variable", () => {
    assert.equal(readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_CPUS: "0.5" }).cpus, 0.5);
    assert.throws(
      () => readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_CPUS: "two" }),
      (error: unknown) => error instanceof ConfigError && error.variable === "SANDBOX_CPUS",
    );
  });

  it("refuses a missing DATABASE_URL, an unknown SANDBOX_DRIVER and a relative SANDBOX_WORK_DIR, each by name", () => {
    assert.throws(
      () => readSandboxConfig({}),
      (error: unknown) => error instanceof ConfigError && error.variable === "DATABASE_URL",
    );
    assert.throws(
      () => readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_DRIVER: "docker" }),
      (error: unknown) => error instanceof ConfigError && error.variable === "SANDBOX_DRIVER",
    );
    assert.throws(
      () => readSandboxConfig({ DATABASE_URL: "postgres://x/y", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN, SANDBOX_WORK_DIR: "work" }),
      (error: unknown) => error instanceof ConfigError && error.variable === "SANDBOX_WORK_DIR",
    );
  });
});
