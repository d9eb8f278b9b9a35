import assert from "node:assert/strict";
import { readReachabilityConfig } from "../src/config.js";
import { TEST_INTERNAL_TOKEN } from "@vexxy/testkit";

describe("reachability configuration", () => {
  it("applies the documented defaults and freezes the result", () => {
    const config = readReachabilityConfig({ DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN });
    assert.equal(config.port, 50054);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.natsStream, "VEXXY");
    assert.equal(config.blobStoreUrl, "file:///var/lib/vexxy/blobs");
    assert.ok(Object.isFrozen(config));
  });

  it("refuses a missing DATABASE_URL and a bad PORT, naming both variables", () => {
    assert.throws(
      () => readReachabilityConfig({ PORT: "http" }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /DATABASE_URL/);
        assert.match(error.message, /PORT/);
        return true;
      },
    );
  });
});
