/**
 * The `vexxy` CLI run as a real child process (never imported): exit status and stderr for a
 * completed job, a FAILED job, a refused request and a missing file argument, and the temp dir
 * listed after a run that started (and stopped) the whole embedded stack. That temp dir is the
 * run's own (TMPDIR), not /tmp: on a shared machine other test runs create and remove entries in
 * /tmp at the same time (a profiler test's vexxy-bt-test-* dir failed a before/after listing).
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { chmod, cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { demoInput } from "./support/mesh.js";

const ROOT = resolve(import.meta.dirname, "..");
/** The demo layout has no repository name of its own; scanners would see it under this one. */
const DEMO_NAME = "registry.example.com/vexxy/demo:demo";

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI; with tmp, as TMPDIR for it and everything it starts. */
function runCli(args: readonly string[], tmp?: string, timeoutMs = 240_000): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "deploy/local/src/cli.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBUG: "", ...(tmp !== undefined ? { TMPDIR: tmp } : {}) },
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

/**
 * What a run left in its TMPDIR, except tsx's compile cache (`tsx-<uid>`), which tsx keeps there
 * across runs by design (it already exists in /tmp).
 */
async function leftIn(tmp: string): Promise<string[]> {
  return (await readdir(tmp)).filter((e) => e !== `tsx-${userInfo().uid}`);
}

/** A fresh temp dir for one CLI run, mode 1777 like /tmp (the postgres user must traverse it). */
async function privateTmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "vexxy-cli-tmpdir-"));
  await chmod(dir, 0o1777);
  return dir;
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

  it("refuses a layout that carries no repository name without --image-name, with exit 1 and one line naming the option", async () => {
    const demo = await demoInput();
    const scan = join(out, "demo-scan.json");
    await writeFile(scan, demo.scan);
    const run = await runCli(["analyze", demo.imageRef, "--scan", scan, "--out", join(out, "nameless")]);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("vexxy:"));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? "", /--image-name/);
  });

  // The CLI computes image_digest itself (skopeo's manifest bytes), so a bad digest cannot be
  // passed from the command line; a scan that is not JSON is the request the orchestrator refuses.
  it("exits 1 for a request the orchestrator refuses (a scan that is not JSON), with one stderr line naming vulnerability_report and no stack", async () => {
    const demo = await demoInput();
    const scan = join(out, "not-json.json");
    await writeFile(scan, "{ this is not json");
    const run = await runCli(["analyze", demo.imageRef, "--scan", scan, "--out", join(out, "refused"), "--image-name", DEMO_NAME]);
    assert.equal(run.code, 1, run.stderr);
    const naming = run.stderr.split("\n").filter((l) => l.includes("vulnerability_report"));
    assert.equal(naming.length, 1, run.stderr);
    assert.match(naming[0] ?? "", /^vexxy: the mesh refused the request \(InvalidArgument\): vulnerability_report: is not valid JSON/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace without --debug");
    assert.equal(run.stdout.includes("COMPLETE"), false);
  });

  it("exits 2 for a job that ends FAILED (a layer that does not match its digest), names the stage and image_ref, keeps the service logs at a path that exists, and leaves nothing in its temp dir", async () => {
    const demo = await demoInput();
    // A scan the orchestrator reads, and a copy of the demo layout with one byte of a layer
    // changed: skopeo reads the manifest (the digest is unchanged), the sandbox's layer digest
    // check refuses the image for good, and the job ends FAILED.
    const image = await corruptedDemoLayout(demo.imageRef);
    const tmp = await privateTmp();
    try {
      const dir = join(out, "failed");
      const run = await runCli(["analyze", image, "--scan", await scanFile(demo.scan), "--out", dir, "--image-name", DEMO_NAME], tmp);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /vexxy: analysis \S+ ended FAILED/);
      assert.match(run.stderr, /sandbox stage failed/);
      assert.match(run.stderr, /image_ref: blob sha256:[0-9a-f]{64} has sha256:[0-9a-f]{64}; the image is corrupt/);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace without --debug");
      const logs = /service logs: (.+)$/m.exec(run.stderr)?.[1];
      assert.ok(logs !== undefined, run.stderr);
      assert.ok((await stat(logs)).isDirectory(), `${logs} exists after the command returned`);
      assert.ok((await readdir(logs)).length > 0, "the kept log dir holds the services' logs");
      const left = await leftIn(tmp);
      assert.deepEqual(left, [], `left in the run's TMPDIR: ${left.join(", ")}`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("exits 0 for a completed analysis and writes the signed VEX, leaving nothing in its temp dir (no pg-password-* file)", async () => {
    const demo = await demoInput();
    const tmp = await privateTmp();
    try {
      const dir = join(out, "ok");
      const run = await runCli(["analyze", demo.imageRef, "--scan", await scanFile(demo.scan), "--out", dir, "--image-name", DEMO_NAME], tmp);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /COMPLETE in/);
      assert.ok((await stat(join(dir, "openvex.sigstore.json"))).size > 0);
      const left = await leftIn(tmp);
      assert.deepEqual(left, [], `left in the run's TMPDIR: ${left.join(", ")}`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  /** A copy of the demo OCI layout (oci:DIR:tag) whose first layer blob has one byte flipped. */
  async function corruptedDemoLayout(imageRef: string): Promise<string> {
    const match = /^oci:(.+):([^:/]+)$/.exec(imageRef);
    assert.ok(match !== null, `an oci:DIR:tag reference: ${imageRef}`);
    const copy = join(out, "corrupted-layout");
    await cp(match[1]!, copy, { recursive: true });
    const index = JSON.parse(await readFile(join(copy, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const blob = (digest: string) => join(copy, "blobs", "sha256", digest.replace(/^sha256:/, ""));
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), "utf8")) as { layers: { digest: string }[] };
    const layer = blob(manifest.layers[0]!.digest);
    const bytes = await readFile(layer);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at]! ^ 0xff) & 0xff;
    await writeFile(layer, bytes);
    return `oci:${copy}:${match[2]!}`;
  }

  async function scanFile(content: Buffer): Promise<string> {
    const file = join(out, "scan.grype.json");
    await writeFile(file, content);
    return file;
  }
});
