#!/usr/bin/env node
// Runs the whole test suite (or the files given) in one mocha process with TypeScript loaded
// by tsx, serially (the tests start real servers and sandboxes), and ends with the plain line
// "N passed, N failed, N skipped". Exits non-zero when anything failed.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const mochaBin = join(dirname(require.resolve("mocha/package.json")), "bin", "mocha.js");
const args = process.argv.slice(2);
const files = args.length > 0 ? args : [
  "libs/*/test/**/*.test.ts",
  "services/*/test/**/*.test.ts",
  "deploy/*/test/**/*.test.ts",
  "test/**/*.test.ts",
];
const result = spawnSync(process.execPath, [
  "--import", "tsx", mochaBin,
  "--reporter", join(root, "scripts", "summary-reporter.cjs"),
  "--timeout", "120000",
  "--exit",
  ...files,
], { cwd: root, stdio: "inherit" });
if (result.error) {
  console.error(result.error);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
process.exit(result.status ?? 1);
