/**
 * CycloneDX through the whole mesh: the demo analysed by the real CLI (a child process that
 * starts the embedded stack) with `--format both`. The orchestrator's results carry both
 * documents, the CLI writes OpenVEX and CycloneDX VEX with their signed bundles and the runtime
 * SBOM, every document is valid against its official schema, both bundles verify with
 * @sigstore/verify against the key the CLI wrote, and the runtime SBOM lists exactly the packages
 * the results say were used.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bundleFromJSON } from "@sigstore/bundle";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { cycloneDxProblems, openVexProblems } from "@vexxy/vex/lib";
import { demoInput } from "./support/mesh.js";

const ROOT = resolve(import.meta.dirname, "..");
const DEMO_NAME = "registry.example.com/vexxy/demo:demo";

function runCli(args: readonly string[], tmp: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "deploy/local/src/cli.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBUG: "", TMPDIR: tmp },
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

/** @sigstore/verify with the key as the only trust anchor (cosign --key --insecure-ignore-tlog). */
function sigstoreVerify(bundleJson: string, pem: string): { predicateType: string; subject: { digest: { sha256: string } }[]; predicate: unknown } {
  const publicKey = createPublicKey(pem);
  const root = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
  };
  const trust = toTrustMaterial(root as unknown as Parameters<typeof toTrustMaterial>[0], () => ({ publicKey, validFor: () => true }));
  const bundle = bundleFromJSON(JSON.parse(bundleJson));
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
  const envelope = (JSON.parse(bundleJson) as { dsseEnvelope: { payload: string } }).dsseEnvelope;
  return JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as never;
}

describe("CycloneDX VEX and runtime SBOM through the mesh (vexxy analyze --format both on the demo)", function () {
  this.timeout(1_200_000);
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "vexxy-cdx-mesh-"));
    await chmod(tmp, 0o1777);
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("writes OpenVEX, CycloneDX VEX, both signed bundles and the runtime SBOM; all valid, both bundles verify, the SBOM lists exactly the used packages", async () => {
    const demo = await demoInput();
    const scan = join(tmp, "scan.json");
    await writeFile(scan, demo.scan);
    const out = join(tmp, "out");
    const run = await runCli(["analyze", demo.imageRef, "--scan", scan, "--out", out, "--image-name", DEMO_NAME, "--format", "both"], tmp, 1_100_000);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const read = async (name: string): Promise<string> => await readFile(join(out, name), "utf8");
    const pem = await read("vex-signing.pub.pem");
    const openVex = JSON.parse(await read("openvex.json")) as unknown;
    assert.deepEqual(openVexProblems(openVex), []);
    const cdx = JSON.parse(await read("cyclonedx-vex.json")) as {
      specVersion: string;
      metadata: { component: { purl: string } };
      vulnerabilities: { id: string; affects: { ref: string }[]; analysis: { state: string } }[];
    };
    assert.deepEqual(cycloneDxProblems(cdx), []);
    assert.equal(cdx.specVersion, "1.6");
    assert.match(cdx.metadata.component.purl, /^pkg:oci\/demo@sha256%3A[0-9a-f]{64}$/);
    const sbom = JSON.parse(await read("sbom.runtime.cdx.json")) as {
      components?: { "bom-ref": string; evidence?: { occurrences: { location: string }[] } }[];
    };
    assert.deepEqual(cycloneDxProblems(sbom), []);

    const openVexStatement = sigstoreVerify(await read("openvex.sigstore.json"), pem);
    assert.equal(openVexStatement.predicateType, "https://openvex.dev/ns");
    const cdxStatement = sigstoreVerify(await read("cyclonedx-vex.sigstore.json"), pem);
    assert.equal(cdxStatement.predicateType, "https://cyclonedx.org/bom");
    assert.deepEqual(cdxStatement.predicate, cdx);
    assert.equal(cdxStatement.subject[0]?.digest.sha256, demo.imageDigest.replace(/^sha256:/, ""));

    // The results: every (vulnerability, package) stated once in the CycloneDX VEX, and the
    // runtime SBOM lists exactly the packages of affected results (the demo's verdicts carry file paths).
    const results = JSON.parse(await read("results.json")) as { results: { vulnerability: string; purl: string; verdict: string; evidence: string[] }[] };
    const pairs = cdx.vulnerabilities.flatMap((v) => v.affects.map((a) => `${v.id} ${a.ref}`));
    assert.equal(new Set(pairs).size, pairs.length);
    const used = new Set(results.results.filter((r) => r.verdict === "affected").map((r) => r.purl));
    assert.ok(used.size > 0, "the demo uses some of its scanned packages");
    assert.deepEqual(new Set((sbom.components ?? []).map((c) => c["bom-ref"])), used);
    for (const c of sbom.components ?? []) assert.ok((c.evidence?.occurrences.length ?? 0) > 0, `${c["bom-ref"]} has its files as occurrences`);
    const states = new Set(cdx.vulnerabilities.map((v) => v.analysis.state));
    assert.ok(states.has("exploitable") && states.has("not_affected"), [...states].join(","));
  });
});
