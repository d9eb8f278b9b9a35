import assert from "node:assert/strict";
import { readVexConfig } from "../src/config.js";
import { TEST_INTERNAL_TOKEN } from "@vexxy/testkit";

describe("VEX service configuration", () => {
  it("applies the documented defaults and freezes the result", () => {
    const config = readVexConfig({ DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db", INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN });
    assert.equal(config.port, 50055);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.natsStream, "VEXXY");
    assert.equal(config.signingKeyFile, undefined);
    assert.equal(config.stateDir, "/var/lib/vexxy/vex");
    assert.equal(config.author, "VEXxy runtime reachability");
    assert.equal(config.idBase, "https://vexxy.dev/vex/");
    assert.ok(Object.isFrozen(config));
  });

  it("reads VEX_SIGNING_KEY_FILE, VEX_STATE_DIR, VEX_AUTHOR and VEX_ID_BASE", () => {
    const config = readVexConfig({
      DATABASE_URL: "postgres://x",
      INTERNAL_AUTH_TOKEN: TEST_INTERNAL_TOKEN,
      VEX_SIGNING_KEY_FILE: "/run/secrets/vex.pem",
      VEX_STATE_DIR: "/tmp/vex",
      VEX_AUTHOR: "ACME PSIRT",
      VEX_ID_BASE: "urn:acme:vex:",
    });
    assert.equal(config.signingKeyFile, "/run/secrets/vex.pem");
    assert.equal(config.stateDir, "/tmp/vex");
    assert.equal(config.author, "ACME PSIRT");
    assert.equal(config.idBase, "urn:acme:vex:");
  });

  it("refuses a missing DATABASE_URL and a VEX_ID_BASE that is not an absolute IRI, naming both variables", () => {
    assert.throws(
      () => readVexConfig({ VEX_ID_BASE: "vex/" }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /DATABASE_URL/);
        assert.match(error.message, /VEX_ID_BASE/);
        return true;
      },
    );
  });
});
