import assert from "node:assert/strict";
import { ConfigError, env, loadConfig } from "@vexxy/platform";

describe("config", () => {
  it("reads typed values with defaults and returns a deeply frozen object", () => {
    const config = loadConfig(
      () => ({
        host: env.string("HOST", { default: "127.0.0.1" }),
        port: env.port("PORT", { default: 50051 }),
        workers: env.int("WORKERS", { default: 2, min: 1, max: 8 }),
        fuzz: env.bool("FUZZ", { default: false }),
        nats: env.url("NATS_URL", { protocols: ["nats"] }),
        level: env.oneOf("LOG_LEVEL", ["debug", "info", "warn", "error"], "info"),
        list: ["a", "b"],
      }),
      { PORT: "0", WORKERS: "8", FUZZ: "Yes", NATS_URL: "nats://127.0.0.1:4222", LOG_LEVEL: "" },
    );
    assert.deepEqual(config, { host: "127.0.0.1", port: 0, workers: 8, fuzz: true, nats: "nats://127.0.0.1:4222", level: "info", list: ["a", "b"] });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.list));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  it("fails naming the variable and its bad value when one reader is used alone", () => {
    process.env["VEXXY_TEST_PORT"] = "80a";
    try {
      assert.throws(
        () => env.port("VEXXY_TEST_PORT"),
        (err: unknown) => err instanceof ConfigError && err.variable === "VEXXY_TEST_PORT" && /VEXXY_TEST_PORT="80a"/.test(err.message),
      );
    } finally {
      delete process.env["VEXXY_TEST_PORT"];
    }
  });

  it("collects every bad variable into one ConfigError naming each with its value", () => {
    const source = { PORT: "70000", WORKERS: "0", FUZZ: "maybe", NATS_URL: "http://x", LOG_LEVEL: "loud", TIMEOUT: "1.5" };
    assert.throws(
      () =>
        loadConfig(
          () => ({
            port: env.port("PORT"),
            workers: env.int("WORKERS", { default: 2, min: 1, max: 8 }),
            fuzz: env.bool("FUZZ"),
            nats: env.url("NATS_URL", { protocols: ["nats"] }),
            level: env.oneOf("LOG_LEVEL", ["debug", "info"], "info"),
            timeout: env.int("TIMEOUT", { default: 300 }),
            database: env.string("DATABASE_URL"),
            ok: env.string("HOST", { default: "127.0.0.1" }),
          }),
          source,
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => p.variable),
          ["PORT", "WORKERS", "FUZZ", "NATS_URL", "LOG_LEVEL", "TIMEOUT", "DATABASE_URL"],
        );
        for (const [name, value] of Object.entries(source)) assert.match(err.message, new RegExp(`${name}="${value.replace(".", "\\.")}"`));
        assert.match(err.message, /DATABASE_URL is required/);
        assert.match(err.message, /from 1 to 8/);
        assert.match(err.message, /one of debug, info/);
        return true;
      },
    );
  });

  it("reports the bad variable when a value derived from its placeholder throws", () => {
    assert.throws(
      () => loadConfig(() => ({ origin: new URL(env.url("PUBLIC_URL")).origin }), {}),
      (err: unknown) => err instanceof ConfigError && err.variable === "PUBLIC_URL" && /PUBLIC_URL is required/.test(err.message),
    );
  });

  it("treats an empty variable as unset and rejects integers that are not decimal", () => {
    assert.equal(
      loadConfig(() => env.int("N", { default: 5 }), { N: "" }),
      5,
    );
    for (const bad of ["0x10", "1e3", " ", "12abc"]) {
      assert.throws(() => loadConfig(() => env.int("N", { default: 5 }), { N: bad }), /N=/);
    }
  });
});
