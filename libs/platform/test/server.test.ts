import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AnalysisService, AnalysisStatus, VexService, healthV1, reflectionV1, type WatchAnalysisResponse } from "@vexxy/proto";
import {
  InvalidFieldError,
  NotFoundError,
  ServerStartError,
  ServingStatus,
  createLogger,
  startServer,
  type Logger,
  type RunningServer,
  type ServerOptions,
} from "@vexxy/platform";
import { createGrpcJsClient } from "@vexxy/testkit";

const BUF = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));
const CREATED_AT = new Date("2026-01-02T03:04:05Z");

interface Captured {
  readonly logger: Logger;
  readonly lines: string[];
}

function captureLogger(): Captured {
  const lines: string[] = [];
  return { lines, logger: createLogger("platform-test", { level: "debug", write: (line) => lines.push(line) }) };
}

/** Releases calls parked on "slow"; "hang" never returns and ignores its signal. */
class Gate {
  #open: () => void = () => undefined;
  readonly opened = new Promise<void>((resolve) => (this.#open = resolve));
  open(): void {
    this.#open();
  }
}

function vexHandlers(gate: Gate): Partial<ServiceImpl<typeof VexService>> {
  return {
    getVex(request) {
      if (request.jobId === "") throw new InvalidFieldError("job_id", "job_id is required");
      if (request.jobId !== "job-1") throw new NotFoundError(`job_id ${request.jobId}: no VEX for this job`);
      return { documentId: "doc-1", documentJson: '{"@context":"https://openvex.dev/ns/v0.2.0"}', bundleJson: "{}" };
    },
    getSigningKey() {
      throw new Error("open /etc/vexxy/secret-path/key.pem: permission denied");
    },
    async verifyBundle(request) {
      if (request.bundleJson === "slow") await gate.opened;
      if (request.bundleJson === "hang") await new Promise<never>(() => undefined);
      return { verified: request.bundleJson === "slow", error: "" };
    },
  };
}

const analysisHandlers: Partial<ServiceImpl<typeof AnalysisService>> = {
  listAnalyses() {
    return { analyses: [{ jobId: "job-1", status: AnalysisStatus.COMPLETE, createdAt: timestampFromDate(CREATED_AT) }] };
  },
  async *watchAnalysis(request) {
    for (const status of [AnalysisStatus.QUEUED, AnalysisStatus.RUNNING, AnalysisStatus.COMPLETE]) {
      yield { analysis: { jobId: request.jobId, status } };
    }
  },
};

async function startTestServer(gate: Gate, logger: Logger, extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return await startServer({
    serviceName: "platform-test",
    port: 0,
    routes(router) {
      router.service(VexService, vexHandlers(gate));
      router.service(AnalysisService, analysisHandlers);
    },
    services: [VexService, AnalysisService],
    logger,
    ...extra,
  });
}

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

function buf(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 60000 }, (err, stdout, stderr) => {
      if (err !== null) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

function grpcCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number" ? err.code : undefined;
}

function grpcDetails(err: unknown): string {
  return typeof err === "object" && err !== null && "details" in err && typeof err.details === "string" ? err.details : "";
}

function hostPort(server: RunningServer): string {
  return `127.0.0.1:${server.port}`;
}

describe("startServer", () => {
  const gate = new Gate();
  const captured = captureLogger();
  let server: RunningServer;

  before(async () => {
    server = await startTestServer(gate, captured.logger);
  });

  after(async () => {
    gate.open();
    await server?.close();
  });

  for (const protocol of ["grpc-v1", "grpc-v1alpha"] as const) {
    it(`lists the services and calls methods with buf curl over reflection ${protocol}, with no proto files`, async () => {
      const list = await buf(["--reflect-protocol", protocol, "--list-services", server.url]);
      const services = list.stdout.trim().split("\n").sort();
      assert.deepEqual(services, [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "vexxy.orchestrator.v1.AnalysisService",
        "vexxy.vex.v1.VexService",
      ]);

      const methods = await buf(["--reflect-protocol", protocol, "--list-methods", server.url]);
      assert.match(methods.stdout, /^vexxy\.vex\.v1\.VexService\/GetVex$/m);

      const vex = await buf(["--reflect-protocol", protocol, "--data", JSON.stringify({ jobId: "job-1" }), `${server.url}/vexxy.vex.v1.VexService/GetVex`]);
      assert.equal((JSON.parse(vex.stdout) as { documentId?: string }).documentId, "doc-1");

      // Analysis imports google/protobuf/timestamp.proto: buf can only print createdAt if reflection served it.
      const listed = await buf(["--reflect-protocol", protocol, "--data", "{}", `${server.url}/vexxy.orchestrator.v1.AnalysisService/ListAnalyses`]);
      const body = JSON.parse(listed.stdout) as { analyses?: { jobId?: string; status?: string; createdAt?: string }[] };
      assert.deepEqual(body.analyses, [{ jobId: "job-1", status: "ANALYSIS_STATUS_COMPLETE", createdAt: "2026-01-02T03:04:05Z" }]);

      await assert.rejects(
        buf(["--reflect-protocol", protocol, "--data", JSON.stringify({ jobId: "" }), `${server.url}/vexxy.vex.v1.VexService/GetVex`]),
        (err: { stderr?: string }) => /invalid_argument/i.test(err.stderr ?? "") && /job_id/.test(err.stderr ?? ""),
      );
    });
  }

  it("answers file_containing_symbol for services, methods, messages, nested types and enums with the file and its transitive dependencies, and NOT_FOUND otherwise", async () => {
    const client = createClient(reflectionV1.ServerReflection, createGrpcTransport({ baseUrl: server.url }));
    const requests: reflectionV1.ServerReflectionRequest["messageRequest"][] = [
      { case: "fileContainingSymbol", value: "vexxy.orchestrator.v1.AnalysisService" },
      { case: "fileContainingSymbol", value: "vexxy.vex.v1.VexService.GetVex" },
      { case: "fileContainingSymbol", value: "vexxy.orchestrator.v1.ListAnalysesResponse" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" },
      { case: "fileContainingSymbol", value: "grpc.health.v1.HealthListResponse.StatusesEntry" },
      { case: "fileContainingSymbol", value: "vexxy.orchestrator.v1.AnalysisStatus" },
      { case: "fileByFilename", value: "google/protobuf/timestamp.proto" },
      { case: "fileContainingSymbol", value: "vexxy.vex.v1.NoSuchMessage" },
      { case: "fileByFilename", value: "vexxy/none.proto" },
      { case: "allExtensionNumbersOfType", value: "vexxy.vex.v1.GetVexRequest" },
      { case: "listServices", value: "*" },
    ];
    async function* send(): AsyncGenerator<reflectionV1.ServerReflectionRequest> {
      for (const messageRequest of requests) yield create(reflectionV1.ServerReflectionRequestSchema, { host: "test", messageRequest });
    }
    const responses: reflectionV1.ServerReflectionResponse[] = [];
    for await (const response of client.serverReflectionInfo(send())) responses.push(response);
    assert.equal(responses.length, requests.length);

    const files = (i: number): string[] => {
      const answer = responses[i]?.messageResponse;
      assert.equal(answer?.case, "fileDescriptorResponse", `request ${i} answered ${answer?.case}`);
      return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
    };
    const orchestrator = files(0);
    assert.equal(orchestrator[0], "vexxy/orchestrator/v1/orchestrator.proto", "the requested file comes first");
    assert.ok(orchestrator.includes("google/protobuf/timestamp.proto"), `dependencies: ${orchestrator.join(", ")}`);
    assert.equal(new Set(orchestrator).size, orchestrator.length, "each file once");
    assert.deepEqual(files(1), ["vexxy/vex/v1/vex.proto"]);
    assert.equal(files(2)[0], "vexxy/orchestrator/v1/orchestrator.proto");
    assert.deepEqual(files(3), ["grpc/health/v1/health.proto"]);
    assert.deepEqual(files(4), ["grpc/health/v1/health.proto"]);
    assert.equal(files(5)[0], "vexxy/orchestrator/v1/orchestrator.proto");
    const timestampAnswer = responses[6]?.messageResponse;
    assert.equal(timestampAnswer?.case, "fileDescriptorResponse");
    const timestamp = fromBinary(FileDescriptorProtoSchema, timestampAnswer.value.fileDescriptorProto[0] ?? new Uint8Array());
    assert.equal(timestamp.package, "google.protobuf");
    assert.deepEqual(
      timestamp.messageType.map((m) => m.name),
      ["Timestamp"],
    );
    for (const i of [7, 8]) {
      const answer = responses[i]?.messageResponse;
      assert.equal(answer?.case, "errorResponse");
      assert.equal(answer.value.errorCode, 5);
    }
    const extensions = responses[9]?.messageResponse;
    assert.equal(extensions?.case, "allExtensionNumbersResponse");
    assert.equal(extensions.value.baseTypeName, "vexxy.vex.v1.GetVexRequest");
    assert.deepEqual(extensions.value.extensionNumber, []);
    const listed = responses[10]?.messageResponse;
    assert.equal(listed?.case, "listServicesResponse");
    assert.ok(listed.value.service.some((s) => s.name === "vexxy.vex.v1.VexService"));
    assert.equal(responses[0]?.validHost, "test");
    assert.equal(responses[0]?.originalRequest?.messageRequest.value, "vexxy.orchestrator.v1.AnalysisService");
  });

  it("serves Connect (HTTP/2), gRPC-Web and gRPC from grpc-js on the same port", async () => {
    const connect = createClient(VexService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
    assert.equal((await connect.getVex({ jobId: "job-1" })).documentId, "doc-1");
    const grpcWeb = createClient(VexService, createGrpcWebTransport({ baseUrl: server.url, httpVersion: "2" }));
    assert.equal((await grpcWeb.getVex({ jobId: "job-1" })).documentId, "doc-1");

    const grpcJs = createGrpcJsClient(VexService, hostPort(server));
    const analyses = createGrpcJsClient(AnalysisService, server.url);
    try {
      const response = await grpcJs.unary("getVex", { jobId: "job-1" });
      assert.equal(response.documentId, "doc-1");
      assert.equal(response.$typeName, "vexxy.vex.v1.GetVexResponse");
      const updates: WatchAnalysisResponse[] = [];
      for await (const update of analyses.serverStream("watchAnalysis", { jobId: "job-7" })) updates.push(update);
      assert.deepEqual(
        updates.map((u) => [u.analysis?.jobId, u.analysis?.status]),
        [
          ["job-7", AnalysisStatus.QUEUED],
          ["job-7", AnalysisStatus.RUNNING],
          ["job-7", AnalysisStatus.COMPLETE],
        ],
      );
    } finally {
      grpcJs.close();
      analyses.close();
    }
  });

  it("sends InvalidArgument naming the field for an InvalidFieldError and Internal without the message for an unknown error, which is logged", async () => {
    const client = createGrpcJsClient(VexService, hostPort(server));
    try {
      await assert.rejects(client.unary("getVex", { jobId: "" }), (err: unknown) => grpcCode(err) === 3 && grpcDetails(err).includes("job_id"));
      await assert.rejects(client.unary("getVex", { jobId: "job-2" }), (err: unknown) => grpcCode(err) === 5 && grpcDetails(err).includes("job-2"));
      await assert.rejects(client.unary("getSigningKey", {}), (err: unknown) => {
        assert.equal(grpcCode(err), 13);
        assert.equal(grpcDetails(err), "internal error");
        assert.doesNotMatch(JSON.stringify(err), /secret-path/);
        return true;
      });
      assert.ok(
        captured.lines.some((line) => line.includes('"level":"error"') && line.includes("secret-path")),
        "the cause is logged on the server",
      );
    } finally {
      client.close();
    }
  });

  it("reports SERVING through grpc-js Health Check for the server and each mounted service, and NOT_FOUND for an unknown one", async () => {
    const health = createGrpcJsClient(healthV1.Health, hostPort(server));
    try {
      assert.equal((await health.unary("check", { service: "" })).status, ServingStatus.SERVING);
      assert.equal((await health.unary("check", { service: "vexxy.vex.v1.VexService" })).status, ServingStatus.SERVING);
      assert.equal((await health.unary("check", { service: "vexxy.orchestrator.v1.AnalysisService" })).status, ServingStatus.SERVING);
      await assert.rejects(health.unary("check", { service: "vexxy.nope.v1.Nope" }), (err: unknown) => grpcCode(err) === 5);
      const list = await health.unary("list", {});
      assert.deepEqual(Object.keys(list.statuses).sort(), ["", "vexxy.orchestrator.v1.AnalysisService", "vexxy.vex.v1.VexService"]);
    } finally {
      health.close();
    }
  });

  it("serves Connect and gRPC-Web over HTTP/1.1 on the second listener when http1Port is given", async () => {
    const withHttp1 = await startTestServer(gate, captured.logger, { http1Port: 0 });
    try {
      assert.ok(withHttp1.http1Url !== undefined && withHttp1.http1Port !== withHttp1.port);
      const connect = createClient(VexService, createConnectTransport({ baseUrl: withHttp1.http1Url, httpVersion: "1.1" }));
      assert.equal((await connect.getVex({ jobId: "job-1" })).documentId, "doc-1");
      const grpcWeb = createClient(VexService, createGrpcWebTransport({ baseUrl: withHttp1.http1Url, httpVersion: "1.1" }));
      assert.equal((await grpcWeb.getVex({ jobId: "job-1" })).documentId, "doc-1");
    } finally {
      await withHttp1.close();
    }
  });

  it("refuses to start on a taken port with ServerStartError naming the address", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const address = blocker.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      await assert.rejects(
        startTestServer(gate, captured.logger, { port }),
        (err: unknown) => err instanceof ServerStartError && err.message.includes(`127.0.0.1:${port}`),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe("RunningServer.close", () => {
  it("reports NOT_SERVING to Check once close() starts, and to an open Watch which then ends", async () => {
    const gate = new Gate();
    const server = await startTestServer(gate, captureLogger().logger, { drainDelayMs: 500 });
    const health = createGrpcJsClient(healthV1.Health, hostPort(server));
    try {
      assert.equal((await health.unary("check", { service: "" })).status, ServingStatus.SERVING);
      const watch = health.serverStream("watch", { service: "vexxy.vex.v1.VexService" })[Symbol.asyncIterator]();
      assert.equal((await watch.next()).value?.status, ServingStatus.SERVING);

      const closing = server.close();
      assert.equal((await health.unary("check", { service: "" })).status, ServingStatus.NOT_SERVING);
      assert.equal((await health.unary("check", { service: "vexxy.vex.v1.VexService" })).status, ServingStatus.NOT_SERVING);
      assert.equal((await watch.next()).value?.status, ServingStatus.NOT_SERVING);
      assert.equal((await watch.next()).done, true, "the watch ends so it does not hold up close()");
      const started = Date.now();
      await closing;
      assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms after the watch ended`);
    } finally {
      health.close();
      await server.close();
    }
  });

  it("lets an in-flight call finish, then resolves although clients keep their connections open", async () => {
    const gate = new Gate();
    const server = await startTestServer(gate, captureLogger().logger);
    const grpcJs = createGrpcJsClient(VexService, hostPort(server));
    const connect = createClient(VexService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" }));
    try {
      // Both clients now hold an open, idle HTTP/2 connection.
      await grpcJs.unary("getVex", { jobId: "job-1" });
      await connect.getVex({ jobId: "job-1" });
      const inFlight = grpcJs.unary("verifyBundle", { bundleJson: "slow" });
      await new Promise((r) => setTimeout(r, 100));

      let closed = false;
      const closing = server.close().then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(closed, false, "close() waits for the in-flight call");
      gate.open();
      assert.equal((await inFlight).verified, true);
      const started = Date.now();
      await closing;
      assert.ok(Date.now() - started < 3000, `close() took ${Date.now() - started} ms after the call ended`);

      await assert.rejects(grpcJs.unary("getVex", { jobId: "job-1" }, { timeoutMs: 2000 }), (err: unknown) => grpcCode(err) === 14 || grpcCode(err) === 4);
    } finally {
      grpcJs.close();
      await server.close();
    }
  });

  it("cuts off a call that outlives the shutdown deadline, so close() never hangs", async () => {
    const server = await startTestServer(new Gate(), captureLogger().logger, { shutdownTimeoutMs: 300 });
    const grpcJs = createGrpcJsClient(VexService, hostPort(server));
    try {
      const hung = grpcJs.unary("verifyBundle", { bundleJson: "hang" });
      const outcome = hung.then(
        () => "resolved",
        (err: unknown) => grpcCode(err),
      );
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await server.close();
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 3000, `close() took ${took} ms`);
      const result = await outcome;
      assert.notEqual(result, "resolved");
      assert.notEqual(result, 0);
    } finally {
      grpcJs.close();
    }
  });
});
