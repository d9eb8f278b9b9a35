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

// The whole suite starts with the lint and type gate: `tsc` over every package and test, and
// Biome (lint + format, warnings are errors). Each check is one test in the closing line; a
// failing check does not stop the tests, so one run shows everything that is wrong.
const gate = { passed: 0, failed: 0 };
if (args.length === 0) {
  const checks = [
    ["typecheck (tsc -p tsconfig.json)", [join(dirname(require.resolve("typescript/package.json")), "bin", "tsc"), "-p", "tsconfig.json"]],
    [
      "lint and format (biome ci --error-on-warnings)",
      [join(dirname(require.resolve("@biomejs/biome/package.json")), "bin", "biome"), "ci", "--error-on-warnings", "--colors=off", "."],
    ],
  ];
  for (const [name, argv] of checks) {
    const run = spawnSync(process.execPath, argv, { cwd: root, stdio: "inherit" });
    const ok = run.status === 0 && run.error === undefined;
    console.log(`gate: ${name} ${ok ? "passed" : `FAILED (exit ${run.status ?? run.error?.message})`}`);
    if (ok) gate.passed += 1;
    else gate.failed += 1;
  }
}
const files = args.length > 0 ? args : ["libs/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "deploy/*/test/**/*.test.ts", "test/**/*.test.ts"];
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    mochaBin,
    "--reporter",
    join(root, "scripts", "summary-reporter.cjs"),
    "--timeout",
    "120000",
    "--require",
    join(root, "scripts", "leak-check.mjs"),
    ...files,
  ],
  { cwd: root, stdio: "inherit", env: { ...process.env, VEXXY_GATE_PASSED: String(gate.passed), VEXXY_GATE_FAILED: String(gate.failed) } },
);
if (result.error) {
  console.error(result.error);
  console.log(`${gate.passed} passed, ${gate.failed + 1} failed`);
  process.exit(1);
}
process.exit(gate.failed > 0 ? 1 : (result.status ?? 1));
