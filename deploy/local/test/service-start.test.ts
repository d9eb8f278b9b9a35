import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, SERVICE_NAMES } from "@vexxy/deploy-local";

describe("service processes", function () {
  this.timeout(120000);
  for (const name of SERVICE_NAMES) {
    it(`${name} refuses to start with a bad variable, naming it, exit status 2`, () => {
      const res = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "services", name, "src", "main.ts")], {
        cwd: REPO_ROOT,
        env: { ...process.env, PORT: "not-a-port", DATABASE_URL: "postgres://127.0.0.1:1/x" },
        encoding: "utf8",
        timeout: 60000,
      });
      assert.equal(res.status, 2, res.stderr);
      assert.match(res.stderr, /PORT="not-a-port"/);
    });
  }
});
