/**
 * Internal web tools call the orchestrator with Connect-web: @connectrpc/connect-web's
 * transport over Node's own fetch (what a browser does), which speaks HTTP/1.1, so it goes to
 * the HTTP/1.1 listener (HTTP1_PORT). Real orchestrator, PostgreSQL and NATS; the Connect
 * protocol in JSON and binary, a bearer token in the request headers.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AnalysisService, AnalysisStatus } from "@vexxy/proto";
import { testAuth, type TestAuth } from "./support/test-auth.js";
import { DIGEST, NO_FINDING_SCAN, startTestOrchestrator, type TestOrchestrator } from "./support/test-orchestrator.js";

describe("a Connect-web client (connect-web transport on Node's fetch) calls the orchestrator's HTTP/1.1 listener", function () {
  this.timeout(180000);
  let t: TestOrchestrator;
  let creds: TestAuth;
  let jobId: string;
  let baseUrl: string;

  before(async () => {
    t = await startTestOrchestrator(
      "orch_connect_web",
      async (dir) => {
        creds = await testAuth(dir);
        return creds.auth;
      },
      { http1Port: 0 },
    );
    assert.ok(t.orchestrator.http1Url !== undefined, "HTTP1_PORT set: the HTTP/1.1 listener is up");
    baseUrl = t.orchestrator.http1Url;
    const token = await creds.credentials.mint({ organizationId: "org-web" });
    // A scan without findings completes at submit, so the job exists in a final state.
    jobId = (await t.client(token).unary("submitAnalysis", { imageRef: "oci:/img:web", imageDigest: DIGEST, vulnerabilityReport: NO_FINDING_SCAN })).jobId;
  });
  after(async () => {
    await t?.stop();
  });

  const client = (token: string | undefined, useBinaryFormat: boolean) =>
    createClient(
      AnalysisService,
      createConnectTransport({
        baseUrl,
        useBinaryFormat,
        fetch: globalThis.fetch,
        interceptors:
          token === undefined
            ? []
            : [
                (next) => async (req) => {
                  req.header.set("authorization", `Bearer ${token}`);
                  return await next(req);
                },
              ],
      }),
    );

  for (const binary of [false, true]) {
    it(`gets GetAnalysis of its organization's job over HTTP/1.1 (Connect protocol, ${binary ? "binary" : "JSON"})`, async () => {
      const token = await creds.credentials.mint({ organizationId: "org-web" });
      const answer = await client(token, binary).getAnalysis({ jobId });
      assert.equal(answer.analysis?.jobId, jobId);
      assert.equal(answer.analysis?.status, AnalysisStatus.COMPLETE);
    });
  }

  it("is refused Unauthenticated without a token, and NotFound for another organization's job", async () => {
    await assert.rejects(client(undefined, false).getAnalysis({ jobId }), (err: unknown) => err instanceof ConnectError && err.code === Code.Unauthenticated);
    const other = await creds.credentials.mint({ organizationId: "org-other" });
    await assert.rejects(client(other, false).getAnalysis({ jobId }), (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound);
  });
});
