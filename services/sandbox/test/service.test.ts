import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { Subjects, connectEventBus, eventMsgId, type EventBus, type InboundEvent, type Subscription } from "@vexxy/events";
import { openStageLedger, type StageLedger } from "@vexxy/ledger";
import { InvalidFieldError, UnavailableError, noopLogger, startServer, type RunningServer } from "@vexxy/platform";
import {
  AnalysisCancelledSchema,
  AnalysisRequestedSchema,
  ExerciseConfigSchema,
  JobRefSchema,
  ProfilerService,
  SandboxService,
  StartTraceResponseSchema,
  WorkloadOutcome,
  type SandboxCompleted,
  type SandboxFailed,
  type SandboxStarted,
} from "@vexxy/proto";
import { TEST_INTERNAL_TOKEN, startNatsServer, startPostgres, tempDir, testInternalAuth, type PostgresServer, type TempDir } from "@vexxy/testkit";
import { internalAuthInterceptor } from "@vexxy/auth";
import { parseCatalogue } from "../src/catalogue/index.js";
import type { SandboxConfig } from "../src/config.js";
import { containerIdFor } from "../src/driver/container-id.js";
import { RuncRuntime } from "../src/driver/runc-runtime.js";
import { startSandboxService, type RunningSandbox } from "../src/service.js";
import { makeBusyboxOciImage, type TestImage } from "./helpers/busybox-oci-image.js";
import { makeBusyboxRootfs } from "./helpers/busybox-rootfs.js";

const quiet = noopLogger;

/** What the ProfilerService stand-in saw at StartTrace. */
interface TraceCall {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
  /** scope.host_cgroup.cgroup_path. */
  readonly cgroupPath: string;
  /** scope.host_cgroup.init_pid. */
  readonly initPid: number;
  /** The deprecated top-level cgroup_path (the sandbox sends scope only). */
  readonly legacyCgroupPath: string;
  /** pids and cmdlines of the processes in the cgroup at that moment. */
  readonly pids: number[];
  readonly cmdlines: string[];
}

function pidsIn(cgroupPath: string): number[] {
  return readFileSync(join(cgroupPath, "cgroup.procs"), "utf8")
    .split("\n")
    .filter((p) => p !== "")
    .map(Number);
}

function cmdlinesIn(cgroupPath: string): string[] {
  const pids = readFileSync(join(cgroupPath, "cgroup.procs"), "utf8")
    .split("\n")
    .filter((p) => p !== "");
  return pids.map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      return "";
    }
  });
}

describe("sandbox service (real nats-server, embedded Postgres, filesystem blobs, runc; ProfilerService is an in-test stand-in)", function () {
  this.timeout(180000);
  let dir: TempDir;
  let pg: PostgresServer;
  let nats: { url: string; stop(): Promise<void> };
  let blobs: BlobStore;
  let bus: EventBus;
  let ledger: StageLedger;
  let profiler: RunningServer;
  let service: RunningSandbox | undefined;
  let observer: Subscription;
  let config: SandboxConfig;
  let rootfs: string;
  const seen: InboundEvent[] = [];
  const traceCalls: TraceCall[] = [];
  /** Job ids whose StartTrace the stand-in refuses ("fail") or holds past the deadline ("hang"). */
  const traceMode = new Map<string, "fail" | "hang">();

  const profilerStandIn: ServiceImpl<typeof ProfilerService> = {
    async startTrace(req) {
      const scope = req.scope?.kind;
      if (scope?.case !== "hostCgroup") throw new InvalidFieldError("scope", "stand-in: a host_cgroup scope is expected from the local driver");
      const cgroupPath = scope.value.cgroupPath;
      const call = {
        jobId: req.jobId,
        attempt: req.attempt,
        containerId: req.containerId,
        cgroupPath,
        initPid: scope.value.initPid,
        legacyCgroupPath: req.cgroupPath,
        pids: pidsIn(cgroupPath),
        cmdlines: cmdlinesIn(cgroupPath),
      };
      traceCalls.push(call);
      const mode = traceMode.get(req.jobId);
      if (mode === "fail") throw new UnavailableError("stand-in: tracer unavailable");
      if (mode === "hang") {
        await new Promise((resolve) => setTimeout(resolve, 3000));
        call.cmdlines.push(...cmdlinesIn(cgroupPath).map((c) => `after-deadline: ${c}`));
        throw new UnavailableError("stand-in: too late");
      }
      return create(StartTraceResponseSchema, {
        traceId: `${req.jobId}/${req.attempt}`,
        tracer: "stand-in",
        cgroupId: BigInt(statSync(cgroupPath).ino),
        attachSeconds: 0.01,
      });
    },
    async getTrace() {
      throw new UnavailableError("stand-in: not implemented");
    },
  };

  before(async () => {
    dir = await tempDir("sandbox-service");
    rootfs = makeBusyboxRootfs(dir.path);
    pg = await startPostgres();
    const databaseUrl = await pg.createDatabase("sandbox_test");
    nats = await startNatsServer({ storeDir: join(dir.path, "nats") });
    profiler = await startServer({
      serviceName: "profiler-stand-in",
      port: 0,
      routes: (r) => r.service(ProfilerService, profilerStandIn),
      services: [ProfilerService],
      logger: quiet,
      // The stand-in checks the secret like the real profiler: StartTrace must carry it.
      interceptors: [internalAuthInterceptor(TEST_INTERNAL_TOKEN)],
    });
    config = Object.freeze({
      internalAuthToken: TEST_INTERNAL_TOKEN,
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: `T${randomUUID().replace(/-/g, "")}`,
      databaseUrl,
      blobStoreUrl: `file://${join(dir.path, "blobs")}`,
      logLevel: "error",
      workDir: join(dir.path, "work"),
      driver: "local",
      profilerUrl: `http://127.0.0.1:${profiler.port}`,
      traceAttachTimeoutMs: 1500,
      memoryBytes: 256 * 1024 * 1024,
      pids: 128,
      cpus: 1,
      maxUnpackedBytes: 100 * 1024 * 1024,
      runcPath: "runc",
      outputCapBytes: 4 * 1024 ** 2,
      eventAckWaitMs: 5000,
    });
    blobs = createBlobStore(config.blobStoreUrl);
    bus = await connectEventBus({ servers: config.natsUrl, name: "sandbox-test", streamName: config.natsStream, logger: quiet });
    ledger = await openStageLedger({ databaseUrl, schema: "sandbox", logger: quiet });
    service = await startSandboxService(config, { logger: quiet });
    observer = await bus.consume(
      { durable: "test-observer", subjects: [Subjects.sandboxStarted, Subjects.sandboxCompleted, Subjects.sandboxFailed] },
      async (event) => {
        seen.push(event);
      },
    );
  });

  after(async () => {
    await observer?.stop();
    await service?.close();
    await profiler?.close();
    await bus?.close();
    await ledger?.close();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  let imageCount = 0;
  function image(cmd: string[]): TestImage {
    imageCount += 1;
    return makeBusyboxOciImage(join(dir.path, `image-${imageCount}`), rootfs, { cmd });
  }

  async function request(
    img: TestImage,
    options: { attempt?: number; jobId?: string; testScript?: string; timeoutSeconds?: number; digest?: string; msgSuffix?: string } = {},
  ): Promise<string> {
    const jobId = options.jobId ?? randomUUID();
    const attempt = options.attempt ?? 1;
    const event = create(AnalysisRequestedSchema, {
      job: create(JobRefSchema, { jobId, attempt, organizationId: "org", imageRef: img.imageRef, imageDigest: options.digest ?? img.imageDigest }),
      config: create(ExerciseConfigSchema, { testScript: options.testScript ?? "", testTimeoutSeconds: options.timeoutSeconds ?? 60 }),
    });
    await bus.publish(Subjects.analysisRequested, event, `${eventMsgId(Subjects.analysisRequested, jobId, attempt)}${options.msgSuffix ?? ""}`);
    return jobId;
  }

  async function eventFor(jobId: string, subject: string, timeoutMs = 30000): Promise<InboundEvent> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = seen.find((e) => e.subject === subject && (e.payload as SandboxStarted).job?.jobId === jobId);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${subject} for job ${jobId} within ${timeoutMs} ms (seen: ${seen.map((e) => e.subject).join(", ")})`);
  }

  function eventsFor(jobId: string, subject: string): InboundEvent[] {
    return seen.filter((e) => e.subject === subject && (e.payload as SandboxStarted).job?.jobId === jobId);
  }

  function client() {
    return createClient(SandboxService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service!.port}`, interceptors: [testInternalAuth()] }));
  }

  async function liveContainers(): Promise<string[]> {
    return (await client().listSandboxes({})).liveContainers;
  }

  it("runs a requested job: tracer attached while the workload still waits, sandbox.started, then sandbox.completed with exit code, catalogue blob and exercise steps; nothing left behind", async () => {
    const img = image(["/bin/sh", "-c", "echo working; sleep 1; exit 0"]);
    const jobId = await request(img, { testScript: "test -x /bin/busybox && echo script-ran" });
    const started = (await eventFor(jobId, Subjects.sandboxStarted)).payload as SandboxStarted;
    const containerId = containerIdFor(jobId, 1);
    assert.equal(started.containerId, containerId);
    const call = traceCalls.find((c) => c.jobId === jobId);
    assert.ok(call !== undefined, "StartTrace was called");
    assert.equal(call.cgroupPath, started.cgroupPath);
    assert.match(call.cgroupPath, new RegExp(`/vexxy/${containerId}$`));
    assert.equal(call.legacyCgroupPath, "", "the deprecated cgroup_path is not sent");
    assert.ok(call.pids.includes(call.initPid), `scope.host_cgroup.init_pid ${call.initPid} is in the cgroup (${call.pids.join(",")})`);
    assert.ok(
      call.cmdlines.length > 0 && call.cmdlines.every((c) => c.includes("runc") && c.includes("init")),
      `at StartTrace only runc's init was in the cgroup: ${call.cmdlines.join(" | ")}`,
    );
    assert.equal(started.cgroupId > 0n, true);
    assert.equal(started.driver, "local");

    const completed = (await eventFor(jobId, Subjects.sandboxCompleted)).payload as SandboxCompleted;
    assert.equal(completed.outcome, WorkloadOutcome.EXITED_OK);
    assert.equal(completed.exitCode, 0);
    assert.ok(completed.durationSeconds >= 0.9, String(completed.durationSeconds));
    assert.deepEqual(
      completed.exercise.map((s) => [s.name, s.ok]),
      [
        ["entrypoint", true],
        ["test_script", true],
      ],
    );
    assert.equal(completed.catalogue?.key, `jobs/${jobId}/attempts/1/catalogue.json`);
    assert.equal(started.catalogue?.sha256, completed.catalogue?.sha256);
    const catalogue = parseCatalogue((await blobs.getVerified({ key: completed.catalogue!.key, sha256: completed.catalogue!.sha256 })).toString("utf8"));
    assert.equal(catalogue.imageDigest, img.imageDigest);
    assert.equal(catalogue.symlinks["/bin/sh"], "busybox");

    const attempts = (await client().getSandbox({ jobId })).attempts;
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.state, a.containerId]),
      [[1, "completed", containerId]],
    );
    assert.ok(!(await liveContainers()).includes(containerId));
    assert.ok(!existsSync(join(config.workDir, "images", containerId)), "the unpacked image is removed");
    assert.ok(!existsSync(join(config.workDir, "bundles", containerId)), "the bundle is removed");
    assert.ok(!existsSync(call.cgroupPath), "the cgroup is removed");
  });

  it("creates no second sandbox for a redelivered analysis.requested of a done attempt", async () => {
    const img = image(["/bin/true"]);
    const jobId = await request(img);
    await eventFor(jobId, Subjects.sandboxCompleted);
    await request(img, { jobId, msgSuffix: ":redelivered" });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(traceCalls.filter((c) => c.jobId === jobId).length, 1, "StartTrace called once");
    assert.equal(eventsFor(jobId, Subjects.sandboxStarted).length, 1);
    assert.equal(eventsFor(jobId, Subjects.sandboxCompleted).length, 1, "the re-published completion is de-duplicated by its Nats-Msg-Id");
    assert.equal((await ledger.get(jobId, "sandbox", 1))?.state, "done");
  });

  it("never starts the workload when StartTrace fails, and publishes sandbox.failed trace_not_attached (retryable)", async () => {
    const img = image(["/bin/sh", "-c", "exit 0"]);
    const jobId = randomUUID();
    traceMode.set(jobId, "fail");
    await request(img, { jobId });
    const failed = (await eventFor(jobId, Subjects.sandboxFailed)).payload as SandboxFailed;
    assert.equal(failed.reason, "trace_not_attached");
    assert.equal(failed.retryable, true);
    assert.equal(eventsFor(jobId, Subjects.sandboxStarted).length, 0);
    assert.ok(!(await liveContainers()).includes(containerIdFor(jobId, 1)));
    assert.equal((await client().getSandbox({ jobId })).attempts[0]?.state, "failed");
  });

  it("never starts the workload when StartTrace does not answer within TRACE_ATTACH_TIMEOUT_MS (the container still holds only runc's init)", async () => {
    const img = image(["/bin/sh", "-c", "exit 0"]);
    const jobId = randomUUID();
    traceMode.set(jobId, "hang");
    await request(img, { jobId });
    const failed = (await eventFor(jobId, Subjects.sandboxFailed)).payload as SandboxFailed;
    assert.equal(failed.reason, "trace_not_attached");
    assert.match(failed.message, /deadline|timed out|timeout/i);
    assert.equal(eventsFor(jobId, Subjects.sandboxStarted).length, 0);
    assert.ok(!(await liveContainers()).includes(containerIdFor(jobId, 1)));
    const call = traceCalls.find((c) => c.jobId === jobId)!;
    assert.ok(
      call.cmdlines.every((c) => !/sh -c exit 0/.test(c)),
      `the workload never ran: ${call.cmdlines.join(" | ")}`,
    );
  });

  it("tears the container down on analysis.cancelled during a run and publishes no completion", async () => {
    const img = image(["/bin/sleep", "120"]);
    const jobId = await request(img, { timeoutSeconds: 120 });
    const started = (await eventFor(jobId, Subjects.sandboxStarted)).payload as SandboxStarted;
    assert.ok((await liveContainers()).includes(started.containerId));
    await bus.publish(
      Subjects.analysisCancelled,
      create(AnalysisCancelledSchema, { job: create(JobRefSchema, { jobId, attempt: 1 }), reason: "user" }),
      eventMsgId(Subjects.analysisCancelled, jobId, 1),
    );
    const deadline = Date.now() + 20000;
    while ((await liveContainers()).includes(started.containerId)) {
      assert.ok(Date.now() < deadline, "the container is gone within 20 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await ledger.get(jobId, "sandbox", 1))?.state, "cancelled");
    assert.equal(eventsFor(jobId, Subjects.sandboxCompleted).length, 0);
    assert.ok(!existsSync(started.cgroupPath));
  });

  it("leaves nothing behind when analysis.cancelled comes during image intake: no container is ever created, the unpacked image is removed, nothing is published", async () => {
    // 20,000 small files in one layer: unpacking takes long enough for the cancel to land in it.
    const bulkyRoot = makeBusyboxRootfs(join(dir.path, "bulky"));
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(bulkyRoot, "data", String(d)), { recursive: true });
      for (let f = 0; f < 200; f++) writeFileSync(join(bulkyRoot, "data", String(d), String(f)), `${d}/${f}\n`);
    }
    const img = makeBusyboxOciImage(join(dir.path, "bulky"), bulkyRoot, { cmd: ["/bin/true"] });
    const jobId = randomUUID();
    const containerId = containerIdFor(jobId, 1);
    const imageDir = join(config.workDir, "images", containerId);
    const bundleDir = join(config.workDir, "bundles", containerId);
    await request(img, { jobId });
    const deadline = Date.now() + 60000;
    while (!existsSync(join(imageDir, "rootfs", "data"))) {
      assert.ok(Date.now() < deadline, "intake began within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await bus.publish(
      Subjects.analysisCancelled,
      create(AnalysisCancelledSchema, { job: create(JobRefSchema, { jobId, attempt: 1 }), reason: "user" }),
      eventMsgId(Subjects.analysisCancelled, jobId, 1),
    );
    let bundleSeen = false;
    while ((await ledger.get(jobId, "sandbox", 1))?.state !== "cancelled" || existsSync(imageDir)) {
      bundleSeen ||= existsSync(bundleDir);
      assert.ok(Date.now() < deadline, "cancelled and the image removed within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The attempt's create has ended: no container appears afterwards either.
    for (let i = 0; i < 100; i++) {
      bundleSeen ||= existsSync(bundleDir);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(bundleSeen, false, "no bundle (no container) was ever made");
    assert.ok(!existsSync(imageDir), "the unpacked image is removed");
    assert.ok(!(await liveContainers()).includes(containerId));
    assert.equal(traceCalls.filter((c) => c.jobId === jobId).length, 0, "StartTrace never called");
    assert.equal(eventsFor(jobId, Subjects.sandboxStarted).length + eventsFor(jobId, Subjects.sandboxFailed).length, 0);
  });

  it("fails an image whose manifest digest differs with sandbox.failed image_digest_mismatch (not retryable) naming image_digest, without creating a container", async () => {
    const img = image(["/bin/true"]);
    const jobId = await request(img, { digest: `sha256:${"0".repeat(64)}` });
    const failed = (await eventFor(jobId, Subjects.sandboxFailed)).payload as SandboxFailed;
    assert.equal(failed.reason, "image_digest_mismatch");
    assert.equal(failed.retryable, false);
    assert.match(failed.message, /image_digest/);
    assert.equal(traceCalls.filter((c) => c.jobId === jobId).length, 0);
  });

  it("at start-up destroys the container of an attempt a dead process left running, reports it interrupted, and does not run it again on redelivery", async () => {
    await service!.close();
    service = undefined;
    const jobId = randomUUID();
    const containerId = containerIdFor(jobId, 1);
    // What a process that died mid-run leaves: a claimed row and a running container.
    await ledger.claim(jobId, "sandbox", 1);
    await ledger.update(jobId, "sandbox", 1, "started", { phase: "running", containerId, driver: "local" });
    const leftover = new RuncRuntime({ workDir: join(config.workDir, "bundles") });
    await leftover.create({ containerId, rootfsDir: rootfs, process: { args: ["/bin/sleep", "300"], env: [], cwd: "/", uid: 0, gid: 0 } });
    await leftover.start(containerId);

    service = await startSandboxService(config, { logger: quiet });
    const failed = (await eventFor(jobId, Subjects.sandboxFailed)).payload as SandboxFailed;
    assert.equal(failed.reason, "interrupted");
    assert.equal(failed.retryable, true);
    assert.ok(!(await liveContainers()).includes(containerId));
    assert.equal((await ledger.get(jobId, "sandbox", 1))?.state, "interrupted");

    await request(image(["/bin/true"]), { jobId, msgSuffix: ":redelivered" });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(traceCalls.filter((c) => c.jobId === jobId).length, 0, "not run again");
    assert.equal((await client().getSandbox({ jobId })).attempts[0]?.state, "interrupted");
  });

  it("answers GetSandbox with NotFound naming job_id for an unknown job, InvalidArgument for an empty one, and ListSandboxes filters by state", async () => {
    await assert.rejects(
      client().getSandbox({ jobId: randomUUID() }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound && /job_id/.test(error.rawMessage),
    );
    await assert.rejects(
      client().getSandbox({ jobId: "" }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument && /^job_id/.test(error.rawMessage),
    );
    await assert.rejects(
      client().listSandboxes({ state: "exploded" }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument && /state/.test(error.rawMessage),
    );
    const completed = (await client().listSandboxes({ state: "completed" })).attempts;
    assert.ok(completed.length >= 2 && completed.every((a) => a.state === "completed"));
    assert.equal((await client().teardownSandbox({ jobId: randomUUID() })).tornDown, false);
  });
});
