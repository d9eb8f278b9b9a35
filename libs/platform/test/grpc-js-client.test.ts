import assert from "node:assert/strict";
import type { ServiceImpl } from "@connectrpc/connect";
import { AnalysisService, AnalysisStatus } from "@vexxy/proto";
import { noopLogger, startServer, type RunningServer } from "@vexxy/platform";
import { createGrpcJsClient } from "@vexxy/testkit";

describe("createGrpcJsClient", () => {
  let server: RunningServer;
  const seen = { authorization: "", streamAborted: false };

  const handlers: Partial<ServiceImpl<typeof AnalysisService>> = {
    getAnalysis(request, context) {
      seen.authorization = context.requestHeader.get("authorization") ?? "";
      return { analysis: { jobId: request.jobId, status: AnalysisStatus.RUNNING } };
    },
    async *watchAnalysis(request, context) {
      context.signal.addEventListener("abort", () => (seen.streamAborted = true));
      for (let progress = 0; !context.signal.aborted; progress++) {
        yield { analysis: { jobId: request.jobId, progressPercent: progress } };
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async cancelAnalysis(_request, context) {
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      return {};
    },
  };

  before(async () => {
    server = await startServer({
      serviceName: "grpc-js-client-test",
      routes: (router) => router.service(AnalysisService, handlers),
      services: [AnalysisService],
      logger: noopLogger,
    });
  });

  after(async () => {
    await server?.close();
  });

  it("sends a request built from an init object with its metadata and decodes the typed response", async () => {
    const client = createGrpcJsClient(AnalysisService, server.url);
    try {
      const response = await client.unary("getAnalysis", { jobId: "j-1" }, { metadata: { authorization: "Bearer t0ken" } });
      assert.equal(response.analysis?.jobId, "j-1");
      assert.equal(response.analysis?.status, AnalysisStatus.RUNNING);
      assert.equal(seen.authorization, "Bearer t0ken");
    } finally {
      client.close();
    }
  });

  it("cancels a server stream when the consumer stops iterating early", async () => {
    const client = createGrpcJsClient(AnalysisService, `127.0.0.1:${server.port}`);
    try {
      const progress: number[] = [];
      for await (const update of client.serverStream("watchAnalysis", { jobId: "j-2" })) {
        progress.push(update.analysis?.progressPercent ?? -1);
        if (progress.length === 3) break;
      }
      assert.deepEqual(progress, [0, 1, 2]);
      const deadline = Date.now() + 2000;
      while (!seen.streamAborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(seen.streamAborted, true, "the server saw the call cancelled");
    } finally {
      client.close();
    }
  });

  it("rejects with DEADLINE_EXCEEDED when the call outlives timeoutMs, and refuses a method of the wrong kind", async () => {
    const client = createGrpcJsClient(AnalysisService, server.url);
    try {
      await assert.rejects(client.unary("cancelAnalysis", { jobId: "j-3" }, { timeoutMs: 200 }), (err: { code?: number }) => err.code === 4);
      // A streaming method name passed where a unary one is expected: rejected before any call.
      const wrongKind = "watchAnalysis" as Parameters<typeof client.unary>[0];
      assert.throws(() => client.unary(wrongKind, { jobId: "j-3" }), /no unary method "watchAnalysis"/);
    } finally {
      client.close();
    }
  });
});
