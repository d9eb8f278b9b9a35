/**
 * StartTrace's scope on a real server (connect-node over HTTP/2), a real stage ledger (embedded
 * Postgres) and the real strace tracer on a real cgroup holding a real process: which scopes
 * this profiler accepts, which it refuses and with what code, and that a sandbox of the previous
 * release (the deprecated top-level cgroup_path) is still traced.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { noopLogger, startServer, type RunningServer } from "@vexxy/platform";
import { ProfilerService } from "@vexxy/proto";
import { startPostgres, type PostgresServer } from "@vexxy/testkit";
import type { EventBus } from "@vexxy/events";
import { traceLifecycle } from "../src/events/sandbox-events-consumer.js";
import { viewOf } from "@vexxy/stage";
import { TRACE_RECORD_FORMAT, TraceRegistry } from "../src/trace-registry.js";
import { traceHandlers } from "../src/trace-rpc.js";
import { StraceTracer } from "../src/tracer/strace-tracer.js";

/** StartTrace publishes nothing: a bus that fails the test if anything is published or consumed. */
const noEvents: EventBus = {
  publish: async (subject) => assert.fail(`StartTrace published ${subject}`),
  consume: async () => assert.fail("StartTrace consumed events"),
  close: async () => undefined,
};

const CGROUP_ROOT = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";

describe("StartTrace scopes (real server, embedded Postgres, the strace tracer on a real cgroup)", function () {
  this.timeout(120000);
  let pg: PostgresServer;
  let ledger: StageLedger;
  let server: RunningServer;
  let client: Client<typeof ProfilerService>;
  const registry = new TraceRegistry();
  const tracer = new StraceTracer({ stracePath: "strace", stopTimeoutMs: 15000 });
  let cgroup: string;
  let workload: ChildProcess;

  before(async () => {
    pg = await startPostgres();
    ledger = await openStageLedger({ databaseUrl: await pg.createDatabase("trace_rpc_test"), schema: "profiler", logger: noopLogger });
    server = await startServer({
      serviceName: "profiler-trace-rpc-test",
      port: 0,
      routes: (r) =>
        r.service(
          ProfilerService,
          traceHandlers({
            tracer,
            registry,
            trace: traceLifecycle({ ledger, bus: noEvents, logger: noopLogger, instanceId: "profiler-test" }),
            attachTimeoutMs: 15000,
            logger: noopLogger,
            instanceId: "profiler-test",
            ownerAlive: async () => false,
          }),
        ),
      services: [ProfilerService],
      logger: noopLogger,
    });
    client = createClient(ProfilerService, createGrpcTransport({ baseUrl: server.url }));
  });

  /** What the trace row of attempt 1 notes (its progress, as the stage lifecycle records it). */
  const recorded = async (jobId: string) => {
    const row = await ledger.get(jobId, "trace", 1);
    return row === undefined ? undefined : viewOf(TRACE_RECORD_FORMAT, row).progress;
  };

  beforeEach(() => {
    cgroup = `${CGROUP_ROOT}/vexxy-trace-rpc-test-${randomBytes(4).toString("hex")}`;
    mkdirSync(cgroup);
    workload = spawn("sleep", ["60"], { stdio: "ignore" });
    writeFileSync(`${cgroup}/cgroup.procs`, String(workload.pid));
  });

  afterEach(async () => {
    const exited = new Promise((resolve) => workload.once("exit", resolve));
    workload.kill("SIGKILL");
    await exited;
    for (let i = 0; i < 50 && existsSync(cgroup); i++) {
      try {
        rmdirSync(cgroup);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100)); // the killed process is still leaving
      }
    }
  });

  after(async () => {
    await server?.close();
    await ledger?.close();
    await pg?.stop();
  });

  /** Stops and throws away a trace this test started (the tracer process is ours). */
  async function discard(jobId: string): Promise<void> {
    await registry.get(jobId, 1)?.discard();
  }

  function rejectsWith(code: Code, field: RegExp): (error: unknown) => boolean {
    return (error: unknown) => error instanceof ConnectError && error.code === code && field.test(error.rawMessage);
  }

  it("traces a host_cgroup scope: the answer carries the cgroup's id and the strace tracer", async () => {
    const jobId = randomUUID();
    const answer = await client.startTrace({
      jobId,
      attempt: 1,
      containerId: "vexxy-t-1",
      scope: { kind: { case: "hostCgroup", value: { cgroupPath: cgroup, initPid: workload.pid ?? 0 } } },
    });
    try {
      assert.equal(answer.tracer, "strace");
      assert.equal(answer.cgroupId, statSync(cgroup, { bigint: true }).ino);
      assert.equal(answer.profilerInstanceId, "profiler-test");
      const session = registry.get(jobId, 1);
      assert.ok(session !== undefined && session.pid !== undefined, "a live strace session is registered");
      assert.match(readFileSync(`/proc/${session.pid}/cmdline`, "utf8"), /strace/);
      assert.equal((await recorded(jobId))?.scope, "host_cgroup");
    } finally {
      await discard(jobId);
    }
  });

  it("still accepts the deprecated cgroup_path of a sandbox of the previous release (no scope), as a host cgroup", async () => {
    const jobId = randomUUID();
    const answer = await client.startTrace({ jobId, attempt: 1, containerId: "vexxy-t-1", cgroupPath: cgroup });
    try {
      assert.equal(answer.tracer, "strace");
      assert.equal(answer.cgroupId, statSync(cgroup, { bigint: true }).ino);
      assert.equal((await recorded(jobId))?.cgroupPath, cgroup);
    } finally {
      await discard(jobId);
    }
  });

  it("refuses a container scope with FailedPrecondition naming scope (this profiler's tracer follows host cgroups only), before claiming the trace", async () => {
    const jobId = randomUUID();
    await assert.rejects(
      client.startTrace({
        jobId,
        attempt: 1,
        containerId: "vexxy-t-1",
        scope: { kind: { case: "container", value: { node: "node-a", containerId: "3f2a9c", runtime: "containerd" } } },
      }),
      rejectsWith(Code.FailedPrecondition, /^scope: .*strace.*container/),
    );
    assert.equal(await ledger.get(jobId, "trace", 1), undefined, "no trace row was claimed");
    assert.equal(registry.get(jobId, 1), undefined);
  });

  it("refuses a host cgroup outside /sys/fs/cgroup with InvalidArgument naming scope.host_cgroup.cgroup_path, the old field's with cgroup_path, and a request with neither naming scope", async () => {
    await assert.rejects(
      client.startTrace({ jobId: randomUUID(), attempt: 1, containerId: "c", scope: { kind: { case: "hostCgroup", value: { cgroupPath: "/etc" } } } }),
      rejectsWith(Code.InvalidArgument, /^scope\.host_cgroup\.cgroup_path/),
    );
    await assert.rejects(
      client.startTrace({ jobId: randomUUID(), attempt: 1, containerId: "c", cgroupPath: "/etc" }),
      rejectsWith(Code.InvalidArgument, /^cgroup_path/),
    );
    await assert.rejects(client.startTrace({ jobId: randomUUID(), attempt: 1, containerId: "c" }), rejectsWith(Code.InvalidArgument, /^scope/));
    await assert.rejects(
      client.startTrace({
        jobId: randomUUID(),
        attempt: 1,
        containerId: "c",
        cgroupPath: `${cgroup}-other`,
        scope: { kind: { case: "hostCgroup", value: { cgroupPath: cgroup } } },
      }),
      rejectsWith(Code.InvalidArgument, /^cgroup_path .*differs/),
    );
  });
});
