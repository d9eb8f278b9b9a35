/**
 * What VEXxy core's @grpc/grpc-js client reads as an error message, against a real orchestrator.
 * grpc-message is percent-encoded on the wire (gRPC over HTTP/2: UTF-8, then %XX). connect-node
 * encodes it with encodeURIComponent (every reserved character escaped, as the spec's grammar
 * allows); grpc-js decodes it with decodeURI, which leaves the escapes of ; / ? : @ & = + $ , #
 * in place. A Connect client decodes it whole, which shows the server sent the exact message.
 */
import assert from "node:assert/strict";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@vexxy/auth";
import { AnalysisService } from "@vexxy/proto";
import { grpcStatusMessage } from "@vexxy/testkit";
import { testAuth, type TestAuth } from "./support/test-auth.js";
import { ONE_FINDING_SCAN, startTestOrchestrator, type TestOrchestrator } from "./support/test-orchestrator.js";

const INVALID_ARGUMENT = 3;
// A digest the orchestrator refuses and quotes back: ':' and the other URI-reserved characters,
// non-ASCII, and a literal '%'.
const BAD_DIGEST = "sha256:é/ü?a=b&c+d$e,f;g@h#i 100%";
const MESSAGE = `image_digest must be "sha256:" followed by 64 lowercase hex digits (got "${BAD_DIGEST}")`;

describe("grpc-js status messages (real orchestrator, PostgreSQL, NATS)", function () {
  this.timeout(180000);
  let t: TestOrchestrator;
  let creds: TestAuth;
  let token: string;

  before(async () => {
    t = await startTestOrchestrator("orch_status_message", async (dir) => {
      creds = await testAuth(dir);
      return creds.auth;
    });
    token = await creds.credentials.mint({ organizationId: "org-messages" });
  });
  after(async () => {
    await t?.stop();
  });

  const submitBadDigest = { imageRef: "oci:/img:demo", imageDigest: BAD_DIGEST, vulnerabilityReport: ONE_FINDING_SCAN };

  it("sends the exact message, which a Connect client over gRPC decodes whole", async () => {
    const client = createClient(AnalysisService, createGrpcTransport({ baseUrl: t.orchestrator.url, interceptors: [bearerInterceptor(token)] }));
    await assert.rejects(client.submitAnalysis(submitBadDigest), (err: unknown) => {
      assert.ok(err instanceof ConnectError, String(err));
      assert.equal(err.code, INVALID_ARGUMENT);
      assert.equal(err.rawMessage, MESSAGE);
      return true;
    });
  });

  it("reaches grpc-js with UTF-8 and '%' decoded but reserved characters still escaped, and grpcStatusMessage restores the exact message", async () => {
    const err = await t
      .client(token)
      .unary("submitAnalysis", submitBadDigest)
      .then(
        () => assert.fail("the submit succeeded"),
        (e: unknown) => e as { code?: number; details?: string },
      );
    assert.equal(err.code, INVALID_ARGUMENT);
    // grpc-js's own decoding (decodeURI): the documented gap VEXxy core's client must close.
    assert.equal(
      err.details,
      'image_digest must be "sha256%3A" followed by 64 lowercase hex digits (got "sha256%3Aé%2Fü%3Fa%3Db%26c%2Bd%24e%2Cf%3Bg%40h%23i 100%")',
    );
    assert.equal(grpcStatusMessage(err), MESSAGE);
  });

  it("grpcStatusMessage leaves a message without escapes, and an absent one, as they are", () => {
    assert.equal(grpcStatusMessage({ details: "job j-1 not found: 100% sure" }), "job j-1 not found: 100% sure");
    assert.equal(grpcStatusMessage({ details: "bad escape %zz %3" }), "bad escape %zz %3");
    assert.equal(grpcStatusMessage({}), "");
  });
});
