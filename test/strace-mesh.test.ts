/**
 * The ptrace fallback through the whole mesh: the demo image with TRACER=strace in the profiler
 * gives the verdicts the demo declares (the ones test/e2e.test.ts checks with bpftrace), from a
 * complete "inode" trace recorded by strace.
 */
import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { createBlobStore } from "@vexxy/blobstore";
import { AnalysisStatus, GetAnalysisResultsRequestSchema } from "@vexxy/proto";
import { apiClient, demoInput, demoSubmit, startMesh, watchToEnd, type ApiClient, type DemoInput } from "./support/mesh.js";
import type { EmbeddedStack } from "@vexxy/deploy-local";

describe("the demo image through the real mesh with the strace tracer (TRACER=strace)", function () {
  this.timeout(600000);
  let stack: EmbeddedStack | undefined;
  let client: ApiClient | undefined;
  let demo: DemoInput;

  before(async () => {
    demo = await demoInput();
    // A generous start-up deadline: five services compile under tsx on a shared, loaded machine.
    stack = await startMesh({ serviceEnv: { profiler: { TRACER: "strace" } }, startTimeoutMs: 300000 });
    client = apiClient(stack);
  });
  after(async () => {
    client?.close();
    await stack?.stop();
  });

  it("completes from a complete strace trace by file identity and gives every verdict the demo declares (those bpftrace gives)", async () => {
    assert.ok(client !== undefined && stack !== undefined);
    const submitted = await client.unary("submitAnalysis", demoSubmit(demo));
    const updates = await watchToEnd(client, submitted.jobId);
    const last = updates.at(-1);
    assert.equal(last?.status, AnalysisStatus.COMPLETE, `ended ${last ? AnalysisStatus[last.status] : "?"}: ${last?.errorMessage}`);
    const results = await client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId: submitted.jobId }));
    const summary = results.executionProfile;
    assert.ok(summary?.traceComplete, `trace complete (loss: ${summary?.lossReasons.join(",")})`);
    assert.ok((summary?.filesAccessed ?? 0) > 0 && (summary?.executablesRun ?? 0) > 0);

    const blobs = createBlobStore(stack.blobStoreUrl, { encryptionKey: stack.blobEncryptionKey });
    const profile = JSON.parse((await blobs.get(`jobs/${submitted.jobId}/attempts/1/profile.json`)).toString("utf8")) as {
      tracer?: string;
      identity?: string;
      uses?: { id?: unknown; access?: string }[];
    };
    assert.equal(profile.tracer, "strace");
    assert.equal(profile.identity, "inode");
    assert.ok((profile.uses ?? []).length > 0 && (profile.uses ?? []).every((u) => u.id !== undefined), "every use carries a file identity");

    assert.ok(demo.expected.length >= 4);
    const mismatches: string[] = [];
    for (const want of demo.expected) {
      const got = results.reachabilityResults.find((r) => r.cveId === want.vulnerability && r.packageName === want.package);
      if (got === undefined) mismatches.push(`${want.vulnerability}/${want.package}: no result`);
      else if (got.status !== want.status || (want.justification !== undefined && got.justification !== want.justification))
        mismatches.push(
          `${want.vulnerability}/${want.package}: ${got.status}/${got.justification} instead of ${want.status}/${want.justification ?? ""} (${got.reason})`,
        );
    }
    assert.deepEqual(mismatches, []);
  });
});
