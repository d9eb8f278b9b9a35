import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@vexxy/testkit";

const require = createRequire(import.meta.url);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const BUF = join(dirname(require.resolve("@bufbuild/buf/package.json")), "bin", "buf");
const PLUGIN = join(ROOT, "node_modules", ".bin", "protoc-gen-es");
const GEN = join(ROOT, "libs", "proto", "src", "gen");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("proto contracts", function () {
  this.timeout(120000);

  it("pass buf lint", () => {
    execFileSync(BUF, ["lint", "proto"], { cwd: ROOT, stdio: "pipe" });
  });

  it("match the committed generated code exactly (gen/ is never edited by hand)", async () => {
    const dir = await tempDir("gen");
    try {
      const template = join(dir.path, "buf.gen.yaml");
      writeFileSync(
        template,
        `version: v2\nclean: true\nplugins:\n  - local: ${PLUGIN}\n    out: ${join(dir.path, "out")}\n    opt:\n      - target=ts\n      - import_extension=js\n`,
      );
      execFileSync(BUF, ["generate", "proto", "--template", template], { cwd: ROOT, stdio: "pipe" });
      const fresh = files(join(dir.path, "out"))
        .map((f) => relative(join(dir.path, "out"), f))
        .sort();
      const committed = files(GEN)
        .map((f) => relative(GEN, f))
        .sort();
      assert.deepEqual(committed, fresh);
      for (const f of fresh)
        assert.equal(
          readFileSync(join(GEN, f), "utf8"),
          readFileSync(join(dir.path, "out", f), "utf8"),
          `${f} differs from a fresh generation: run pnpm generate`,
        );
    } finally {
      await dir.remove();
    }
  });
});
