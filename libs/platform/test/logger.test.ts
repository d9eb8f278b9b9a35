import assert from "node:assert/strict";
import { createLogger } from "@vexxy/platform";

describe("logger", () => {
  it("writes one JSON line per call with time, level, service, msg and fields, skipping lower levels", () => {
    const lines: string[] = [];
    const logger = createLogger("sandbox", { level: "info", write: (line) => lines.push(line) });
    logger.debug("hidden");
    logger.info("listening", { port: 50052 });
    logger.error("failed", { error: new Error("bad", { cause: new Error("root") }), size: 10n });
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    assert.deepEqual(Object.keys(first).slice(0, 4), ["time", "level", "service", "msg"]);
    assert.equal(first["msg"], "listening");
    assert.equal(first["port"], 50052);
    assert.ok(!Number.isNaN(Date.parse(String(first["time"]))));
    const second = JSON.parse(lines[1] ?? "") as { error: { message: string; cause: { message: string } }; size: string };
    assert.equal(second.error.message, "bad");
    assert.equal(second.error.cause.message, "root");
    assert.equal(second.size, "10");
  });

  it("adds child fields to every line without letting fields overwrite the leading keys", () => {
    const lines: string[] = [];
    const logger = createLogger("vex", { level: "debug", write: (line) => lines.push(line) }).child({ jobId: "j1", msg: "spoof" });
    logger.debug("signed", { attempt: 2 });
    const line = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    assert.equal(line["msg"], "signed");
    assert.equal(line["jobId"], "j1");
    assert.equal(line["attempt"], 2);
    assert.equal(line["field.msg"], "spoof");
  });

  it("takes its level from LOG_LEVEL and refuses an unknown one naming the variable", () => {
    const saved = process.env["LOG_LEVEL"];
    try {
      process.env["LOG_LEVEL"] = "warn";
      assert.equal(createLogger("x", { write: () => undefined }).level, "warn");
      process.env["LOG_LEVEL"] = "verbose";
      assert.throws(() => createLogger("x"), /LOG_LEVEL="verbose"/);
    } finally {
      if (saved === undefined) delete process.env["LOG_LEVEL"];
      else process.env["LOG_LEVEL"] = saved;
    }
  });
});
