import { strict as assert } from "node:assert";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from "node:fs";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { WorkloadOutcome } from "@vexxy/proto";
import { BpftraceTracer, buildProfile, parseTraceeJsonLines, toTraceeEvents, type TraceScope } from "../src/index.js";

const CGROUP_ROOT = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";

/** Runs `sh -c script` inside the cgroup (the child moves itself in before exec). */
async function runInCgroup(cgroup: string, script: string): Promise<void> {
  const child = spawn("sh", ["-c", `echo $$ > ${cgroup}/cgroup.procs && exec sh -c '${script}'`], { stdio: "ignore", cwd: "/" });
  await once(child, "exit");
}

describe("bpftrace tracer on a real cgroup (tracepoints, aggregated in maps)", function () {
  this.timeout(60000);
  let cgroup: string;
  const scope = (): TraceScope => ({ jobId: "job", attempt: 1, containerId: "c1", cgroupPath: cgroup });
  const tracer = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 4096, stopTimeoutMs: 15000 });

  beforeEach(() => {
    cgroup = `${CGROUP_ROOT}/vexxy-test-${randomBytes(4).toString("hex")}`;
    mkdirSync(cgroup);
  });
  afterEach(() => {
    try {
      rmdirSync(cgroup);
    } catch {
      // a process may still be exiting
    }
  });

  it("records the files the cgroup's processes opened and executed, failed opens as failed, relative opens apart, and nothing from outside the cgroup", async () => {
    const session = await tracer.start(scope(), 15000);
    assert.ok(session.attachSeconds > 0 && session.attachSeconds < 15);
    await runInCgroup(cgroup, "cat /etc/hostname >/dev/null; cat /nonexistent-vexxy 2>/dev/null; cd /etc && cat ./os-release >/dev/null; true");
    execFileSync("cat", ["/etc/passwd"]); // outside the cgroup
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    const profile = buildProfile(toTraceeEvents(result, scope()), { jobId: "job", attempt: 1, tracer: "bpftrace", containerId: "c1", lossReasons: result.lossReasons, outcome: WorkloadOutcome.EXITED_OK, durationSeconds: 1 });
    const file = (p: string) => profile.files.find((f) => f.path === p);
    assert.ok((file("/etc/hostname")?.countOk ?? 0n) > 0n, "opened file recorded");
    assert.ok((file("/nonexistent-vexxy")?.countFailed ?? 0n) > 0n && file("/nonexistent-vexxy")?.countOk === 0n, "failed open recorded as failed");
    assert.ok(profile.files.some((f) => f.access === "exec" && f.path.endsWith("/cat")), "exec of cat recorded");
    assert.ok(profile.files.some((f) => f.path.endsWith("libc.so.6")), "the loader's open of libc recorded");
    assert.ok(profile.unresolvedRelativeOpens.some((f) => f.path === "./os-release"), "relative open kept unresolved");
    assert.equal(file("/etc/passwd"), undefined, "an open outside the cgroup is not recorded");
    assert.ok(profile.complete);
    assert.ok(profile.eventsTraced > 0n);
  });

  it("marks the trace incomplete with tracer_died when bpftrace is killed mid-run", async () => {
    const session = await tracer.start(scope(), 15000);
    execFileSync("pkill", ["-KILL", "-f", `bpftrace -f json`]);
    // The kernel takes a moment to tear down a killed tracer's probes.
    for (let i = 0; i < 50 && !session.died; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(session.died, true);
    const result = await session.stop();
    assert.ok(result.lossReasons.includes("tracer_died"), result.lossReasons.join(","));
  });

  it("marks the trace incomplete with map_full when a map reaches BPFTRACE_MAP_KEYS_MAX", async () => {
    const small = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 16, stopTimeoutMs: 15000 });
    const session = await small.start(scope(), 15000);
    await runInCgroup(cgroup, "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do cat /nonexistent-$i 2>/dev/null; done; true");
    const result = await session.stop();
    assert.ok(result.lossReasons.some((r) => r.startsWith("map_full:")), result.lossReasons.join(","));
  });

  it("refuses to attach to a cgroup that does not exist", async () => {
    await assert.rejects(tracer.start({ ...scope(), cgroupPath: `${cgroup}-missing` }, 5000), /does not exist/);
  });
});

describe("Tracee event ingestion", () => {
  it("reads real Tracee JSON events into a profile: opened and read files, relative paths apart", () => {
    const events = parseTraceeJsonLines(readFileSync(fileURLToPath(new URL("./fixtures/tracee-forensics-events.jsonl", import.meta.url)), "utf8"));
    assert.equal(events.length, 6);
    const profile = buildProfile(events, { jobId: "j", attempt: 1, tracer: "tracee", containerId: "", lossReasons: [], outcome: WorkloadOutcome.EXITED_OK, durationSeconds: 1 });
    assert.ok(profile.files.some((f) => f.path === "/tmp/testing.txt" && f.access === "open" && f.countOk > 0n));
    assert.ok(!profile.files.some((f) => f.access === "exec"));
  });

  it("keeps only the events of the traced container and is incomplete when a loss is reported", () => {
    const mk = (container: string, path: string) => JSON.stringify({ timestamp: 1, processId: 1, cgroupId: 1, containerId: container, eventName: "security_file_open", args: [{ name: "pathname", type: "const char*", value: path }] });
    const text = [mk("mine", "/usr/lib/a.so"), mk("other", "/usr/lib/b.so")].join("\n");
    writeFileSync("/dev/null", text);
    const profile = buildProfile(parseTraceeJsonLines(text), { jobId: "j", attempt: 1, tracer: "tracee", containerId: "mine", lossReasons: ["events_lost"], outcome: WorkloadOutcome.EXITED_OK, durationSeconds: 1 });
    assert.deepEqual(profile.files.map((f) => f.path), ["/usr/lib/a.so"]);
    assert.equal(profile.complete, false);
  });
});
