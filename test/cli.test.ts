/**
 * The `vexxy` CLI run as a real child process (never imported): exit status and stderr for a
 * completed job, a FAILED job, a refused request and a missing file argument, and /tmp listed
 * before and after a run that started (and stopped) the whole embedded stack.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { demoInput } from "./support/mesh.js";

const ROOT = resolve(import.meta.dirname, "..");

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], timeoutMs = 240_000): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "deploy/local/src/cli.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBUG: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

async function tmpEntries(): Promise<Set<string>> {
  return new Set(await readdir(tmpdir()));
}

describe("vexxy CLI as a child process", function () {
  this.timeout(600_000);
  let out: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "vexxy-cli-test-"));
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it("refuses a missing --scan file with exit 1 and one line naming the option, before starting anything", async () => {
    const run = await runCli(["analyze", "oci:/nonexistent", "--scan", join(out, "missing.json"), "--out", join(out, "a")]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? "", /^vexxy: --scan: no such file: /);
  });

  it("refuses an out-of-range --timeout with a non-zero exit naming the option", async () => {
    const run = await runCli(["analyze", "x", "--scan", "y", "--out", "z", "--timeout", "5"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--timeout must be an integer number of seconds, 60\.\.900/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
  });

  it("prints one line, without a stack, for an image that cannot be read, and exits 1", async () => {
    const scan = join(out, "scan.json");
    await writeFile(scan, "{}");
    const run = await runCli(["analyze", join(out, "no-such-layout"), "--scan", scan, "--out", join(out, "b")]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^vexxy: /m);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace without --debug");
  });

  it("exits 2 for a job that ends FAILED, names the stage, keeps the service logs at a path that exists, and leaves nothing in /tmp", async () => {
    const demo = await demoInput();
    const scan = join(out, "broken-scan.json");
    // Valid JSON that is no Grype or Trivy report: the job runs and ends FAILED.
    await writeFile(scan, JSON.stringify({ matches: "not a list" }));
    const before = await tmpEntries();
    const dir = join(out, "failed");
    const run = await runCli(["analyze", demo.imageRef, "--scan", scan, "--out", dir]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /vexxy: analysis \S+ ended FAILED/);
    const logs = /service logs: (.+)$/m.exec(run.stderr)?.[1];
    assert.ok(logs !== undefined, run.stderr);
    assert.ok((await stat(logs)).isDirectory(), `${logs} exists after the command returned`);
    assert.ok((await readdir(logs)).length > 0, "the kept log dir holds the services' logs");
    const after = await tmpEntries();
    const left = [...after].filter((e) => !before.has(e));
    assert.deepEqual(left, [], `left in ${tmpdir()}: ${left.join(", ")}`);
  });

  it("exits 0 for a completed analysis and writes the signed VEX, leaving nothing in /tmp", async () => {
    const demo = await demoInput();
    const before = await tmpEntries();
    const dir = join(out, "ok");
    const run = await runCli(["analyze", demo.imageRef, "--scan", await scanFile(demo.scan), "--out", dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /COMPLETE in/);
    assert.ok((await stat(join(dir, "openvex.sigstore.json"))).size > 0);
    const after = await tmpEntries();
    const left = [...after].filter((e) => !before.has(e));
    assert.deepEqual(left, [], `left in ${tmpdir()}: ${left.join(", ")}`);
    assert.equal([...after].filter((e) => e.startsWith("pg-password-")).length, [...before].filter((e) => e.startsWith("pg-password-")).length);
  });

  async function scanFile(content: Buffer): Promise<string> {
    const file = join(out, "scan.grype.json");
    await writeFile(file, content);
    return file;
  }
});
