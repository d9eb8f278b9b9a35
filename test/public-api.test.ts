import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@vexxy/auth";
import { Status } from "@grpc/grpc-js/build/src/constants.js";
import {
  AnalysisStatus,
  CancelAnalysisRequestSchema,
  GetAnalysisRequestSchema,
  GetAnalysisResultsRequestSchema,
  ListAnalysesRequestSchema,
  SandboxService,
} from "@vexxy/proto";
import { demoSubmit, waitFor, useMesh } from "./support/mesh.js";
import { waitForNoContainers } from "./support/runc.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const BUF = join(dirname(require.resolve("@bufbuild/buf/package.json")), "bin", "buf");

async function expectGrpcError(call: Promise<unknown>, code: number, field: string): Promise<void> {
  await assert.rejects(call, (err: { code?: number; details?: string }) => {
    assert.equal(err.code, code, `gRPC status ${err.code}: ${err.details}`);
    assert.ok((err.details ?? "").includes(field), `message names ${field}: ${err.details}`);
    return true;
  });
}

describe("the public AnalysisService on the real mesh", function () {
  this.timeout(300000);
  const mesh = useMesh();

  it("rejects a digest that is not sha256 + 64 hex with InvalidArgument naming image_digest", async () => {
    await expectGrpcError(mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { imageDigest: "md5:abc" })), Status.INVALID_ARGUMENT, "image_digest");
  });

  it("rejects a timeout outside 60..900 with InvalidArgument naming config.test_timeout_seconds", async () => {
    await expectGrpcError(
      mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { config: { testTimeoutSeconds: 30, ports: [], environment: {}, testScript: "" } })),
      Status.INVALID_ARGUMENT,
      "config.test_timeout_seconds",
    );
    await expectGrpcError(
      mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { config: { testTimeoutSeconds: 901, ports: [], environment: {}, testScript: "" } })),
      Status.INVALID_ARGUMENT,
      "config.test_timeout_seconds",
    );
  });

  it("rejects an empty image_ref with InvalidArgument naming image_ref", async () => {
    await expectGrpcError(mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { imageRef: "" })), Status.INVALID_ARGUMENT, "image_ref");
  });

  it("refuses a malformed Grype report at submit with InvalidArgument naming the field, and creates no job", async () => {
    const scan = JSON.parse(mesh.demo.scan.toString("utf8")) as { matches: { artifact: Record<string, unknown> }[] };
    scan.matches[1]!.artifact["version"] = 3;
    const imageRef = `${mesh.demo.imageRef.replace(/:demo$/, "")}:malformed-scan`;
    // Only the field: connect-node percent-encodes ":" in grpc-message and grpc-js decodes it with
    // decodeURI, which leaves "%3A" as it is, so a grpc-js caller reads "...version%3A must be".
    await expectGrpcError(
      mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { imageRef, vulnerabilityReport: Buffer.from(JSON.stringify(scan)) })),
      Status.INVALID_ARGUMENT,
      "vulnerability_report.matches[1].artifact.version",
    );
    const listed = await mesh.client.unary("listAnalyses", create(ListAnalysesRequestSchema, { imageRef }));
    assert.equal(listed.analyses.length, 0);
  });

  it("completes a scan with no findings at submit as a success: COMPLETE, zero results, no VEX", async () => {
    const submitted = await mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo, { vulnerabilityReport: Buffer.from('{"matches":[]}') }));
    assert.equal(submitted.status, AnalysisStatus.COMPLETE);
    const job = await mesh.client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId: submitted.jobId }));
    assert.equal(job.analysis?.status, AnalysisStatus.COMPLETE);
    assert.equal(job.analysis?.errorMessage, "");
    const results = await mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId }));
    assert.equal(results.reachabilityResults.length, 0);
    assert.equal(results.vexDocument, "");
  });

  it("answers NotFound naming job_id for an unknown job and InvalidArgument for a malformed one", async () => {
    await expectGrpcError(
      mesh.client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId: "00000000-0000-4000-8000-000000000000" })),
      Status.NOT_FOUND,
      "job_id",
    );
    await expectGrpcError(mesh.client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId: "nope" })), Status.INVALID_ARGUMENT, "job_id");
  });

  it("lists and calls the public service through reflection with buf curl and no proto files", async () => {
    const base = mesh.stack.urls.orchestrator;
    const list = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", base]);
    assert.match(list.stdout, /vexxy\.orchestrator\.v1\.AnalysisService/);
    assert.match(list.stdout, /grpc\.health\.v1\.Health/);
    const call = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-H",
      `authorization: Bearer ${mesh.stack.devToken}`,
      "--data",
      JSON.stringify({ pageSize: 5 }),
      `${base}/vexxy.orchestrator.v1.AnalysisService/ListAnalyses`,
    ]);
    assert.doesNotThrow(() => JSON.parse(call.stdout === "" ? "{}" : call.stdout));
    const bad = run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-H",
      `authorization: Bearer ${mesh.stack.devToken}`,
      "--data",
      JSON.stringify({ jobId: "not-a-uuid" }),
      `${base}/vexxy.orchestrator.v1.AnalysisService/GetAnalysis`,
    ]);
    await assert.rejects(bad, (err: { stderr?: string }) => /invalid_argument/i.test(err.stderr ?? "") && /job_id/.test(err.stderr ?? ""));
  });

  it("cancels a running job: CANCELLED, its sandbox torn down, results refused with FailedPrecondition", async () => {
    const submitted = await mesh.client.unary(
      "submitAnalysis",
      demoSubmit(mesh.demo, { config: { testTimeoutSeconds: 300, environment: { DEMO_SLEEP_SECONDS: "240" }, ports: [], testScript: "" } }),
    );
    await waitFor(mesh.client, submitted.jobId, (a) => a.status === AnalysisStatus.RUNNING, 180000);
    const prefix = `vexxy-${submitted.jobId.slice(0, 12)}`;
    const cancelled = await mesh.client.unary("cancelAnalysis", create(CancelAnalysisRequestSchema, { jobId: submitted.jobId, reason: "test" }));
    assert.equal(cancelled.analysis?.status, AnalysisStatus.CANCELLED);
    assert.deepEqual(await waitForNoContainers(prefix, 30000), [], "no container of the job is left");
    const sandbox = createClient(
      SandboxService,
      createGrpcTransport({ baseUrl: mesh.stack.urls.sandbox, interceptors: [bearerInterceptor(mesh.stack.internalAuthToken)] }),
    );
    const attempts = (await sandbox.getSandbox({ jobId: submitted.jobId })).attempts;
    assert.ok(attempts.length >= 1 && attempts.every((a) => a.state !== "running"), `attempt states: ${attempts.map((a) => a.state).join(",")}`);
    await expectGrpcError(
      mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId })),
      Status.FAILED_PRECONDITION,
      "job_id",
    );
    await expectGrpcError(
      mesh.client.unary("cancelAnalysis", create(CancelAnalysisRequestSchema, { jobId: submitted.jobId })),
      Status.FAILED_PRECONDITION,
      "job_id",
    );
  });
});
