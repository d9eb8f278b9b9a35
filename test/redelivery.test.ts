import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@vexxy/auth";
import { AnalysisStatus, GetAnalysisRequestSchema, SandboxService, VexService } from "@vexxy/proto";
import { Subjects } from "@vexxy/events";
import { createBlobStore } from "@vexxy/blobstore";
import { demoSubmit, waitFor, useMesh } from "./support/mesh.js";
import { replayLast } from "./support/stream.js";
import { liveContainers } from "./support/runc.js";

describe("redelivered events on the real mesh", function () {
  this.timeout(400000);
  const mesh = useMesh();

  it("creates no second sandbox and no second VEX when analysis.requested and reachability.scored are delivered again", async () => {
    const { jobId } = await mesh.client.unary("submitAnalysis", demoSubmit(mesh.demo));
    const done = await waitFor(mesh.client, jobId, (a) => a.status === AnalysisStatus.COMPLETE || a.status === AnalysisStatus.FAILED, 300000);
    assert.equal(done.status, AnalysisStatus.COMPLETE, done.errorMessage);
    const vex = createClient(
      VexService,
      createGrpcTransport({ baseUrl: mesh.stack.urls.vex, interceptors: [bearerInterceptor(mesh.stack.internalAuthToken)] }),
    );
    const before = await vex.getVex({ jobId });
    const blobs = createBlobStore(mesh.stack.blobStoreUrl);
    const vexBlobsBefore = (await blobs.list(`jobs/${jobId}/`)).filter((k) => k.endsWith("openvex.json"));
    assert.equal(vexBlobsBefore.length, 1);

    await replayLast(mesh.stack.natsUrl, Subjects.analysisRequested);
    await replayLast(mesh.stack.natsUrl, Subjects.reachabilityScored);
    // Give every consumer time to receive and handle the replays.
    const deadline = Date.now() + 8000;
    let containers: string[] = [];
    while (Date.now() < deadline) {
      containers = [...containers, ...(await liveContainers(`vexxy-${jobId.slice(0, 12)}`))];
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(containers, [], "no container was created for the replayed request");
    const sandbox = createClient(
      SandboxService,
      createGrpcTransport({ baseUrl: mesh.stack.urls.sandbox, interceptors: [bearerInterceptor(mesh.stack.internalAuthToken)] }),
    );
    assert.equal((await sandbox.getSandbox({ jobId })).attempts.length, 1, "one sandbox attempt");
    const after = await vex.getVex({ jobId });
    assert.equal(after.documentId, before.documentId);
    assert.equal(after.bundleJson, before.bundleJson, "the signed bundle is the same one");
    const vexBlobsAfter = (await blobs.list(`jobs/${jobId}/`)).filter((k) => k.endsWith("openvex.json"));
    assert.deepEqual(vexBlobsAfter, vexBlobsBefore, "exactly one VEX document stored");
    const job = await mesh.client.unary("getAnalysis", create(GetAnalysisRequestSchema, { jobId }));
    assert.equal(job.analysis?.status, AnalysisStatus.COMPLETE);
    assert.equal(job.analysis?.attempt, 1);
  });
});
