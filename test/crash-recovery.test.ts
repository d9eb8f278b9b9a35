import { strict as assert } from "node:assert";
import { create } from "@bufbuild/protobuf";
import { AnalysisStatus, GetAnalysisResultsRequestSchema } from "@vexxy/proto";
import { createBlobStore } from "@vexxy/blobstore";
import type { ServiceName } from "@vexxy/deploy-local";
import { demoSubmit, waitFor, isFinalStatus, useMesh, type DemoInput } from "./support/mesh.js";
import { verifyBundleIndependently } from "./support/vex-checks.js";
import { waitForNoContainers } from "./support/runc.js";

/** A run long enough to kill a service in the middle of it. */
function heldRun(demo: DemoInput) {
  return demoSubmit(demo, { config: { testTimeoutSeconds: 60, environment: { DEMO_SLEEP_SECONDS: "12" }, ports: [], testScript: "" } });
}

describe("killing one service mid-job and starting it again", function () {
  this.timeout(900000);
  const mesh = useMesh();

  async function vexDocumentsOf(jobId: string): Promise<string[]> {
    return (await createBlobStore(mesh.stack.blobStoreUrl).list(`jobs/${jobId}/`)).filter((k) => k.endsWith("openvex.json"));
  }

  for (const name of ["orchestrator", "reachability", "vex"] as ServiceName[]) {
    it(`still ends COMPLETE with exactly one VEX when the ${name} is killed during the run`, async () => {
      const { jobId } = await mesh.client.unary("submitAnalysis", heldRun(mesh.demo));
      await waitFor(mesh.client, jobId, (a) => a.status === AnalysisStatus.RUNNING, 180000);
      await mesh.stack.kill(name);
      // The run finishes and its events wait in the stream while the service is down.
      await new Promise((r) => setTimeout(r, 15000));
      await mesh.stack.restart(name);
      const end = await waitFor(mesh.client, jobId, (a) => isFinalStatus(a.status), 300000);
      assert.equal(end.status, AnalysisStatus.COMPLETE, end.errorMessage);
      assert.deepEqual(await vexDocumentsOf(jobId), [`jobs/${jobId}/attempts/${end.attempt}/openvex.json`]);
      const results = await mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId }));
      verifyBundleIndependently(results.vexBundle, results.signingPublicKeyPem);
    });
  }

  for (const name of ["sandbox", "profiler"] as ServiceName[]) {
    it(`tears the interrupted attempt down and never scores it when the ${name} is killed mid-run`, async () => {
      const { jobId } = await mesh.client.unary("submitAnalysis", heldRun(mesh.demo));
      const running = await waitFor(mesh.client, jobId, (a) => a.status === AnalysisStatus.RUNNING, 180000);
      const interrupted = running.attempt;
      await new Promise((r) => setTimeout(r, 2000));
      await mesh.stack.kill(name);
      await new Promise((r) => setTimeout(r, 2000));
      await mesh.stack.restart(name);
      const end = await waitFor(mesh.client, jobId, (a) => isFinalStatus(a.status), 400000);
      const keys = await createBlobStore(mesh.stack.blobStoreUrl).list(`jobs/${jobId}/attempts/${interrupted}/`);
      assert.ok(
        !keys.some((k) => k.endsWith("verdicts.json") || k.endsWith("openvex.json")),
        `nothing scored from the interrupted attempt: ${keys.join(", ")}`,
      );
      if (end.status === AnalysisStatus.COMPLETE) {
        assert.ok(end.attempt > interrupted, "the job completed on a new attempt");
        const results = await mesh.client.unary("getAnalysisResults", create(GetAnalysisResultsRequestSchema, { jobId }));
        assert.ok(results.executionProfile?.traceComplete, "the completing attempt had a complete trace");
      } else {
        assert.equal(end.status, AnalysisStatus.FAILED);
        assert.match(end.errorMessage, new RegExp(name));
      }
      assert.deepEqual(await waitForNoContainers(`vexxy-${jobId.slice(0, 12)}`, 30000), []);
    });
  }
});
