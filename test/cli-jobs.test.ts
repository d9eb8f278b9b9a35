/**
 * The CLI's job verbs (submit, watch, results, vex, cancel, list) run as real child processes
 * against one embedded mesh: their --json output parsed, their exit status, the documents they
 * write, and their one-line refusals (no endpoint, a bad token, an unknown job).
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { EmbeddedStack } from "@vexxy/deploy-local";
import { demoInput, startMesh } from "./support/mesh.js";

const ROOT = resolve(import.meta.dirname, "..");
const DEMO_NAME = "registry.example.com/vexxy/demo:demo";

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], env: Readonly<Record<string, string>>, timeoutMs = 400_000): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "deploy/local/src/cli.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBUG: "", VEXXY_ENDPOINT: "", VEXXY_TOKEN: "", ...env },
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

describe("vexxy job verbs against a running mesh", function () {
  this.timeout(900_000);
  let stack: EmbeddedStack;
  let out: string;
  let env: Record<string, string>;
  let scan: string;
  let image: string;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), "vexxy-cli-jobs-"));
    stack = await startMesh();
    env = { VEXXY_ENDPOINT: stack.urls.orchestrator, VEXXY_TOKEN: stack.devToken };
    const demo = await demoInput();
    scan = join(out, "scan.json");
    await writeFile(scan, demo.scan);
    image = demo.imageRef;
  });
  after(async () => {
    await stack?.stop();
    await rm(out, { recursive: true, force: true });
  });

  it("refuses a verb without an endpoint with exit 1 and one line naming --endpoint", async () => {
    const run = await runCli(["list"], {});
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr.trim(), /^vexxy: --endpoint: /);
  });

  it("refuses a bad token with exit 1 and the mesh's Unauthenticated, without a stack", async () => {
    const run = await runCli(["list", "--token", "not.a.jwt"], { VEXXY_ENDPOINT: stack.urls.orchestrator });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /refused the request \(Unauthenticated\)/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it("submits with --json, watches to COMPLETE (exit 0), then lists, tabulates and writes the job's documents", async () => {
    const submitted = await runCli(["submit", image, "--scan", scan, "--image-name", DEMO_NAME, "--format", "both", "--json"], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const job = JSON.parse(submitted.stdout) as { jobId: string; status: string };
    assert.match(job.jobId, /^[0-9a-f-]{36}$/);
    assert.equal(job.status, "ANALYSIS_STATUS_QUEUED");

    const watched = await runCli(["watch", job.jobId, "--json"], env);
    assert.equal(watched.code, 0, watched.stderr);
    const updates = watched.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string; progressPercent?: number });
    assert.ok(updates.length >= 2, `one JSON line per change: ${watched.stdout}`);
    assert.equal(updates.at(-1)?.status, "ANALYSIS_STATUS_COMPLETE");
    const percents = updates.map((u) => u.progressPercent ?? 0);
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => a - b),
      "progress never goes back",
    );

    const listed = await runCli(["list", "--json", "--status", "complete"], env);
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { analyses?: { jobId: string }[] };
    assert.ok(
      list.analyses?.some((a) => a.jobId === job.jobId),
      listed.stdout,
    );

    const table = await runCli(["results", job.jobId], env);
    assert.equal(table.code, 0, table.stderr);
    const results = await runCli(["results", job.jobId, "--json"], env);
    const parsed = JSON.parse(results.stdout) as { reachabilityResults: { cveId: string; status: string }[] };
    assert.ok(parsed.reachabilityResults.length > 0);
    // Every result of the JSON answer is a row of the table.
    for (const r of parsed.reachabilityResults) assert.ok(table.stdout.includes(r.cveId), `${r.cveId} in the table`);
    assert.match(table.stdout, new RegExp(`${parsed.reachabilityResults.length} results`));

    const openvexFile = join(out, "doc.openvex.json");
    const vex = await runCli(["vex", job.jobId, "--kind", "openvex", "--out", openvexFile], env);
    assert.equal(vex.code, 0, vex.stderr);
    const doc = JSON.parse(await readFile(openvexFile, "utf8")) as { "@context": string; statements: unknown[] };
    assert.equal(doc["@context"], "https://openvex.dev/ns/v0.2.0");
    assert.equal(doc.statements.length > 0, true);
    const bundleFile = join(out, "doc.sigstore.json");
    assert.equal((await runCli(["vex", job.jobId, "--out", bundleFile], env)).code, 0);
    const bundle = JSON.parse(await readFile(bundleFile, "utf8")) as { dsseEnvelope?: { payloadType: string } };
    assert.equal(bundle.dsseEnvelope?.payloadType, "application/vnd.in-toto+json");
    const cdxFile = join(out, "doc.cdx.json");
    const cdx = await runCli(["vex", job.jobId, "--kind", "cyclonedx", "--out", cdxFile], env);
    assert.equal(cdx.code, 0, cdx.stderr);
    assert.equal((JSON.parse(await readFile(cdxFile, "utf8")) as { bomFormat: string }).bomFormat, "CycloneDX");
  });

  it("cancels a queued or running job; watch then exits 2 with CANCELLED", async () => {
    const submitted = await runCli(["submit", image, "--scan", scan, "--image-name", DEMO_NAME, "--json"], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const { jobId } = JSON.parse(submitted.stdout) as { jobId: string };
    const cancelled = await runCli(["cancel", jobId, "--reason", "test", "--json"], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const watched = await runCli(["watch", jobId], env);
    assert.equal(watched.code, 2, watched.stderr);
    assert.match(watched.stdout, new RegExp(`${jobId} CANCELLED`));
  });

  it("answers results of an unknown job with exit 1 and NotFound", async () => {
    const run = await runCli(["results", "00000000-0000-4000-8000-000000000000"], env);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /\(NotFound\)/);
  });
});
