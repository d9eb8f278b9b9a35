import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WorkloadOutcome } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { allCgroupDirsFor, cgroupV2PathFor, controllerPathFor, detectCgroupLayout } from "../src/driver/cgroup-layout.js";
import { containerIdFor } from "../src/driver/container-id.js";
import { buildOciConfig } from "../src/driver/oci-config.js";
import { RuncRuntime, type RuncContainerSpec } from "../src/driver/runc-runtime.js";
import type { SandboxProcess } from "../src/driver/sandbox-driver.js";
import { makeBusyboxRootfs } from "./helpers/busybox-rootfs.js";

describe("cgroup layout and container ids", () => {
  it("computes /sys/fs/cgroup/vexxy/<id> as the v2 directory on a pure v2 host", () => {
    const layout = detectCgroupLayout("/sys/fs/cgroup", (p) => p === "/sys/fs/cgroup/cgroup.controllers");
    assert.equal(layout.kind, "v2");
    assert.equal(cgroupV2PathFor(layout, "/vexxy/vexxy-abc-1"), "/sys/fs/cgroup/vexxy/vexxy-abc-1");
    assert.equal(controllerPathFor(layout, "memory", "/vexxy/vexxy-abc-1"), "/sys/fs/cgroup/vexxy/vexxy-abc-1");
    assert.deepEqual(allCgroupDirsFor(layout, "/vexxy/x"), ["/sys/fs/cgroup/vexxy/x"]);
  });

  it("computes /sys/fs/cgroup/unified/vexxy/<id> on a hybrid host and keeps the limits in the v1 controllers", () => {
    const layout = detectCgroupLayout("/sys/fs/cgroup", (p) => p === "/sys/fs/cgroup/unified");
    assert.equal(layout.kind, "hybrid");
    assert.equal(cgroupV2PathFor(layout, "/vexxy/vexxy-abc-1"), "/sys/fs/cgroup/unified/vexxy/vexxy-abc-1");
    assert.equal(controllerPathFor(layout, "pids", "/vexxy/vexxy-abc-1"), "/sys/fs/cgroup/pids/vexxy/vexxy-abc-1");
  });

  it("refuses a v1-only host, which has no cgroup v2 id for the tracer", () => {
    assert.throws(() => detectCgroupLayout("/sys/fs/cgroup", () => false), /no cgroup v2 tree/);
  });

  it("detects this host's layout as the one its /sys/fs/cgroup shows", () => {
    const expected = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "hybrid";
    assert.equal(detectCgroupLayout().kind, expected);
  });

  it("names a container vexxy-<first 12 of the job id>-<attempt> and rejects an attempt below 1", () => {
    assert.equal(containerIdFor("0f8e2a1c-5b7d-4e2a-9c1b-2d3e4f5a6b7c", 2), "vexxy-0f8e2a1c-5b7-2");
    assert.equal(containerIdFor("a/b c", 1), "vexxy-a_b_c-1");
    assert.throws(() => containerIdFor("job", 0), /attempt/);
  });

  it("writes a config with every capability set empty, noNewPrivileges, a read-only root and namespaces without paths", () => {
    const config = buildOciConfig({
      rootfsDir: "/r",
      process: { args: ["/app"], env: ["A=1"], cwd: "/", uid: 1000, gid: 1000 },
      limits: { memoryBytes: 1024, pids: 8, cpus: 0.5 },
      cgroupsPath: "/vexxy/x",
      hostname: "sandbox",
    });
    const process = config.process as { capabilities: Record<string, string[]>; noNewPrivileges: boolean; user: { uid: number } };
    for (const set of Object.values(process.capabilities)) assert.deepEqual(set, []);
    assert.equal(process.noNewPrivileges, true);
    assert.equal(process.user.uid, 1000);
    assert.equal(config.root.readonly, true);
    const linux = config.linux as {
      namespaces: Array<{ type: string; path?: string }>;
      resources: { cpu: { quota: number; period: number }; memory: { limit: number; swap: number } };
    };
    assert.deepEqual(linux.namespaces.map((n) => n.type).sort(), ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
    assert.ok(
      linux.namespaces.every((n) => n.path === undefined),
      "fresh namespaces, none joined",
    );
    assert.deepEqual(linux.resources.cpu, { quota: 50000, period: 100000, shares: 256 });
    assert.equal(linux.resources.memory.swap, 1024, "no swap beyond the memory limit");
    assert.deepEqual(
      config.mounts
        .filter((m) => m.type === "tmpfs")
        .map((m) => m.destination)
        .sort(),
      ["/dev", "/dev/shm", "/run", "/tmp"],
    );
  });
});

describe("RuncRuntime on real runc (busybox rootfs)", function () {
  this.timeout(60000);
  let dir: TempDir;
  let rootfs: string;
  let driver: RuncRuntime;
  const created: string[] = [];

  before(async () => {
    dir = await tempDir("runc-runtime");
    rootfs = makeBusyboxRootfs(dir.path);
    driver = new RuncRuntime({ workDir: join(dir.path, "bundles") });
  });

  after(async () => {
    for (const id of created) await driver.destroy(id).catch(() => undefined);
    await dir?.remove();
  });

  function spec(script: string, overrides: Partial<SandboxProcess> = {}, limits: RuncContainerSpec["limits"] = {}): RuncContainerSpec {
    const containerId = `vexxy-test${randomBytes(3).toString("hex")}-1`;
    created.push(containerId);
    return { containerId, rootfsDir: rootfs, process: { args: ["/bin/sh", "-c", script], env: ["PATH=/bin"], cwd: "/", uid: 0, gid: 0, ...overrides }, limits };
  }

  async function run(s: RuncContainerSpec, timeoutMs = 20000) {
    const handle = await driver.create(s);
    await driver.start(handle.containerId);
    const result = await driver.wait(handle.containerId, timeoutMs);
    return { handle, result };
  }

  it("holds the workload before exec after create (cgroup v2 directory exists, nothing ran) and reports the exact exit code after start", async () => {
    const s = spec("echo ran > /dev/null; exit 3");
    const handle = await driver.create(s);
    assert.ok(existsSync(handle.cgroupV2Path), handle.cgroupV2Path);
    assert.equal(handle.cgroupV2Path, cgroupV2PathFor(driver.layout, `/vexxy/${s.containerId}`));
    assert.match(readFileSync(join(handle.cgroupV2Path, "cgroup.procs"), "utf8"), new RegExp(`^${handle.initPid}$`, "m"));
    assert.match(readFileSync(`/proc/${handle.initPid}/cmdline`, "utf8"), /runc/, "the init is still runc's, not the workload");
    await driver.start(handle.containerId);
    const result = await driver.wait(handle.containerId, 20000);
    assert.equal(result.exitCode, 3);
    assert.equal(result.outcome, WorkloadOutcome.EXITED_ERROR);
    const ok = await run(spec("exit 0"));
    assert.equal(ok.result.outcome, WorkloadOutcome.EXITED_OK);
    assert.equal(ok.result.exitCode, 0);
  });

  it("runs as the given uid with no effective capabilities", async () => {
    const { result } = await run(spec("id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status", { uid: 65534, gid: 65534 }));
    assert.equal(result.outcome, WorkloadOutcome.EXITED_OK, result.stderrTail);
    const lines = result.stdoutTail.trim().split("\n");
    assert.equal(lines[0], "65534");
    assert.match(result.stdoutTail, /CapEff:\s+0000000000000000/);
    assert.match(result.stdoutTail, /CapBnd:\s+0000000000000000/);
    assert.match(result.stdoutTail, /NoNewPrivs:\s+1/);
  });

  it("refuses a write to the read-only root (also as uid 0) while /tmp and /run are writable", async () => {
    const { result } = await run(spec("touch /bin/evil; echo root=$?; touch /tmp/ok && echo tmp=$?; touch /run/ok && echo run=$?"));
    assert.match(result.stdoutTail, /root=1/);
    assert.match(result.stderrTail, /Read-only file system/);
    assert.match(result.stdoutTail, /tmp=0/);
    assert.match(result.stdoutTail, /run=0/);
    assert.ok(!existsSync(join(rootfs, "bin", "evil")));
  });

  it("gives the workload a network namespace with only lo, up, so 127.0.0.1 connects inside", async () => {
    const { result } = await run(
      spec("ls /sys/class/net; nc -l -p 8080 > /tmp/got & sleep 0.3; echo ping | nc -w 2 127.0.0.1 8080; sleep 0.3; echo got=$(cat /tmp/got)"),
    );
    const lines = result.stdoutTail.trim().split("\n");
    assert.equal(lines[0], "lo", `interfaces: ${result.stdoutTail}`);
    assert.ok(!lines.slice(1).some((l) => /^(eth|ens|veth|docker|br)/.test(l)), result.stdoutTail);
    assert.match(result.stdoutTail, /got=ping/, result.stderrTail);
  });

  it("bounds a fork bomb by the pids limit (the 17th task is refused and the shell gives up) and reports the limit hit", async () => {
    const s = spec("i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; echo looped; exit 0", {}, { pids: 16 });
    const handle = await driver.create(s);
    assert.equal(readFileSync(join(controllerPathFor(driver.layout, "pids", handle.cgroupsPath), "pids.max"), "utf8").trim(), "16");
    await driver.start(s.containerId);
    const result = await driver.wait(s.containerId, 20000);
    // busybox sh gives up (status 2) at the first refused fork: the bomb never got past 16 tasks.
    assert.doesNotMatch(result.stdoutTail, /looped/, JSON.stringify(result));
    assert.match(result.stderrTail, /can't fork/);
    assert.equal(result.pidsLimitHit, true);
    assert.equal(result.exitCode, 2);
    assert.equal(result.outcome, WorkloadOutcome.EXITED_ERROR);
  });

  it("kills a workload that exceeds the memory limit and reports LIMIT_KILLED", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${#x} is the shell's string length, not a template
    const { result } = await run(spec("x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo survived ${#x}", {}, { memoryBytes: 32 * 1024 * 1024 }));
    assert.equal(result.oomKilled, true, `${result.exitCode} ${result.stdoutTail} ${result.stderrTail}`);
    assert.equal(result.outcome, WorkloadOutcome.LIMIT_KILLED);
    assert.doesNotMatch(result.stdoutTail, /survived/);
  });

  it("kills a workload still running at the timeout and reports TIMEOUT_RUNNING", async () => {
    const started = Date.now();
    const { result } = await run(spec("sleep 60"), 1000);
    assert.equal(result.outcome, WorkloadOutcome.TIMEOUT_RUNNING);
    assert.equal(result.exitCode, 137);
    assert.ok(Date.now() - started < 15000);
    assert.ok(result.durationSeconds >= 0.9 && result.durationSeconds < 5, String(result.durationSeconds));
  });

  it("runs a command inside the running sandbox with runc exec and returns its exit code and output", async () => {
    const s = spec("sleep 30");
    const handle = await driver.create(s);
    await driver.start(handle.containerId);
    const exec = await driver.exec(handle.containerId, ["/bin/sh", "-c", "echo from-exec; id -u; exit 4"], 10000);
    assert.equal(exec.exitCode, 4);
    assert.match(exec.stdout, /from-exec\n0\n/);
    await driver.kill(handle.containerId);
    const result = await driver.wait(handle.containerId, 10000);
    assert.equal(result.exitCode, 137);
  });

  it("leaves no container, cgroup directory or bundle after destroy, even of a created never-started sandbox, and destroy is idempotent", async () => {
    const s = spec("sleep 30");
    const handle = await driver.create(s);
    assert.ok((await driver.list()).includes(s.containerId));
    await driver.destroy(s.containerId);
    assert.ok(!(await driver.list()).includes(s.containerId));
    assert.doesNotMatch(execFileSync("runc", ["list", "-q"], { encoding: "utf8" }), new RegExp(s.containerId));
    for (const cg of allCgroupDirsFor(driver.layout, handle.cgroupsPath)) assert.ok(!existsSync(cg), `${cg} left behind`);
    assert.ok(!existsSync(driver.bundleDirOf(s.containerId)));
    assert.ok(!existsSync(`/proc/${handle.initPid}`) || !readFileSync(`/proc/${handle.initPid}/cmdline`, "utf8").includes("runc"));
    await driver.destroy(s.containerId);

    const ran = spec("exit 0");
    const done = await run(ran);
    await driver.destroy(ran.containerId);
    for (const cg of allCgroupDirsFor(driver.layout, done.handle.cgroupsPath)) assert.ok(!existsSync(cg), `${cg} left behind`);
  });

  it("fails create naming the missing entrypoint and leaves no container or bundle behind", async () => {
    const s = spec("true");
    const bad = { ...s, process: { ...s.process, args: ["/no/such/binary"] } };
    await assert.rejects(driver.create(bad), /runc create .*\/no\/such\/binary/);
    assert.ok(!(await driver.list()).includes(s.containerId));
    assert.ok(!existsSync(driver.bundleDirOf(s.containerId)));
    for (const cg of allCgroupDirsFor(driver.layout, driver.cgroupsPathOf(s.containerId))) assert.ok(!existsSync(cg), `${cg} left behind`);
  });
});
