import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WorkloadOutcome } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { allCgroupDirsFor, controllerPathFor } from "../src/driver/cgroup-layout.js";
import { InvalidSandboxSpecError, SandboxRefusedError } from "../src/driver/driver-errors.js";
import { RuncRuntime, type RuncContainerSpec } from "../src/driver/runc-runtime.js";
import type { SandboxProcess } from "../src/driver/sandbox-driver.js";
import { asFailure } from "../src/sandbox-stage.js";
import { makeBusyboxRootfs } from "./helpers/busybox-rootfs.js";

const PROBE_SOURCE = fileURLToPath(new URL("./helpers/containment-probe.c", import.meta.url));

/** Probes the profile must refuse, with the errno each must get. */
const DENIED: Record<string, string> = {
  keyctl: "EPERM",
  add_key: "EPERM",
  request_key: "EPERM",
  userfaultfd: "EPERM",
  io_uring_setup: "EPERM",
  io_uring_enter: "EPERM",
  io_uring_register: "EPERM",
  unshare_user: "EPERM",
  unshare_cgroup: "EPERM",
  unshare_ns: "EPERM",
  clone_newuser: "EPERM",
  clone3: "ENOSYS",
  setns: "EPERM",
  mount: "EPERM",
  umount2: "EPERM",
  pivot_root: "EPERM",
  chroot: "EPERM",
  perf_event_open: "EPERM",
  name_to_handle_at: "EPERM",
  open_by_handle_at: "EPERM",
  bpf: "EPERM",
  open_tree: "EPERM",
  fsopen: "EPERM",
  fsconfig: "EPERM",
  fsmount: "EPERM",
  fspick: "EPERM",
  move_mount: "EPERM",
  mount_setattr: "EPERM",
  kexec_load: "EPERM",
  ptrace: "EPERM",
  process_vm_readv: "EPERM",
  socket_vsock: "EPERM",
  personality_exec: "EPERM",
};

describe("containment of a hostile workload on real runc", function () {
  this.timeout(120000);
  let dir: TempDir;
  let rootfs: string;
  let workDir: string;
  let driver: RuncRuntime;

  before(async () => {
    dir = await tempDir("containment");
    rootfs = makeBusyboxRootfs(dir.path);
    execFileSync("gcc", ["-static", "-O1", "-o", join(rootfs, "bin", "probe"), PROBE_SOURCE]);
    workDir = join(dir.path, "bundles");
    driver = new RuncRuntime({ workDir, outputCapBytes: 4 * 1024 ** 2 });
  });

  after(async () => {
    await dir?.remove();
  });

  function spec(args: string[], overrides: Partial<SandboxProcess> = {}): RuncContainerSpec {
    const containerId = `vexxy-cont${randomBytes(3).toString("hex")}-1`;
    return { containerId, rootfsDir: rootfs, process: { args, env: ["PATH=/bin"], cwd: "/", uid: 0, gid: 0, ...overrides } };
  }

  async function run(s: RuncContainerSpec, timeoutMs = 60000) {
    const handle = await driver.create(s);
    try {
      await driver.start(handle.containerId);
      return await driver.wait(handle.containerId, timeoutMs);
    } finally {
      await driver.destroy(handle.containerId);
      assertHostClean(s.containerId);
    }
  }

  function assertHostClean(id: string): void {
    assert.ok(!execFileSync("runc", ["list", "-q"], { encoding: "utf8" }).split("\n").includes(id), `runc still lists ${id}`);
    assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes(workDir), "a mount under the bundle directory is left");
    for (const cg of allCgroupDirsFor(driver.layout, driver.cgroupsPathOf(id))) assert.ok(!existsSync(cg), `cgroup ${cg} left`);
    assert.ok(!existsSync(driver.bundleDirOf(id)), "bundle left");
  }

  it("denies every namespace, mount, keyring, io_uring, handle, bpf, perf, ptrace and vsock syscall with EPERM (clone3 with ENOSYS) while ordinary calls work", async () => {
    const result = await run(spec(["/bin/probe"]));
    assert.equal(result.outcome, WorkloadOutcome.EXITED_OK, result.stderrTail);
    const seen = new Map(
      result.stdoutTail
        .trim()
        .split("\n")
        .map((line) => {
          const [name, ret, errno] = line.split(" ");
          return [name!, { ret: Number(ret), errno: errno! }] as const;
        }),
    );
    for (const [name, errno] of Object.entries(DENIED)) {
      const got = seen.get(name);
      assert.ok(got !== undefined, `probe ${name} did not report: ${result.stdoutTail}`);
      assert.equal(got.ret, -1, `${name} succeeded`);
      assert.equal(got.errno, errno, `${name} failed with ${got.errno}, expected ${errno}`);
    }
    for (const control of ["control_socket_unix", "control_fork", "control_getpid", "control_personality_query"]) {
      assert.ok((seen.get(control)?.ret ?? -1) >= 0, `${control} was refused: ${result.stdoutTail}`);
    }
  });

  it("gives a second job no key the first one tried to add and the host's keyrings stay untouched", async () => {
    const hostKeys = (): number =>
      readFileSync("/proc/keys", "utf8")
        .split("\n")
        .filter((l) => l.includes("vexxy-probe")).length;
    const hostBefore = hostKeys();
    const first = await run(spec(["/bin/probe"]));
    assert.match(first.stdoutTail, /^add_key -1 EPERM$/m);
    const second = await run(spec(["/bin/sh", "-c", "cat /proc/keys | wc -c; /bin/probe | grep -E '^(keyctl|request_key) '"]));
    assert.match(second.stdoutTail, /^0$/m, "/proc/keys is masked");
    assert.match(second.stdoutTail, /^request_key -1 EPERM$/m);
    assert.equal(hostKeys(), hostBefore, "a key named vexxy-probe reached the host's keyrings");
  });

  it("keeps a 1 GiB stdout flood to the cap in memory, records the truncation, and moves the host disk by almost nothing", async () => {
    const before = statfsSync(dir.path);
    const startedAt = Date.now();
    const result = await run(spec(["/bin/sh", "-c", "dd if=/dev/zero bs=1048576 count=1024 2>/dev/null; echo done >&2"]));
    const seconds = (Date.now() - startedAt) / 1000;
    const after = statfsSync(dir.path);
    assert.equal(result.outcome, WorkloadOutcome.EXITED_OK, result.stderrTail);
    assert.equal(result.stdoutBytes, 1024 ** 3);
    assert.equal(result.outputTruncated, true);
    assert.ok(result.stdoutTail.length <= 4096 + 64);
    const diskDeltaBytes = (before.bavail - after.bavail) * before.bsize;
    // Other processes share this disk; a 1 GiB flood reaching it would move it by ~1024 MiB.
    assert.ok(diskDeltaBytes < 128 * 1024 ** 2, `host disk moved by ${diskDeltaBytes} bytes`);
    assert.ok(seconds < 60, `the flood took ${seconds} s`);
    console.log(`      flood: ${seconds.toFixed(1)} s, host disk delta ${(diskDeltaBytes / 1024 ** 2).toFixed(1)} MiB`);
  });

  it("refuses a file larger than RLIMIT_FSIZE in the writable tmpfs", async () => {
    const result = await run(spec(["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1048576 count=100; ls -l /tmp/big"]));
    assert.match(result.stdoutTail + result.stderrTail, /File too large|67108864/);
  });

  it("holds a CPU spinner to its 1 CPU quota while a host loop keeps running", async () => {
    const hostLoop = (ms: number): number => {
      const end = Date.now() + ms;
      let n = 0;
      while (Date.now() < end) n++;
      return n;
    };
    const baseline = hostLoop(1000);
    const s = spec(["/bin/sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; sleep 4"]);
    const handle = await driver.create(s);
    let during = 0;
    let usageNs = 0;
    try {
      await driver.start(handle.containerId);
      await new Promise((r) => setTimeout(r, 1000));
      // v1: cpuacct is its own hierarchy on some hosts and co-mounted with cpu ("cpu,cpuacct") on others.
      const v1Candidates = [
        join(driver.layout.root, "cpuacct", handle.cgroupsPath, "cpuacct.usage"),
        join(controllerPathFor(driver.layout, "cpu", handle.cgroupsPath), "cpuacct.usage"),
        join(driver.layout.root, "cpu,cpuacct", handle.cgroupsPath, "cpuacct.usage"),
      ];
      const usageFile = driver.layout.kind === "v2" ? join(handle.cgroupV2Path, "cpu.stat") : v1Candidates.find((f) => existsSync(f));
      assert.ok(usageFile, `no cpuacct.usage for the container among ${v1Candidates.join(", ")}`);
      const read = (): number => {
        const text = readFileSync(usageFile, "utf8");
        return driver.layout.kind === "v2" ? Number(/usage_usec (\d+)/.exec(text)?.[1] ?? 0) * 1000 : Number(text.trim());
      };
      const u0 = read();
      const t0 = process.hrtime.bigint();
      during = hostLoop(2000) / 2;
      usageNs = (read() - u0) / Number(process.hrtime.bigint() - t0);
      await driver.wait(handle.containerId, 20000);
    } finally {
      await driver.destroy(handle.containerId);
      assertHostClean(s.containerId);
    }
    console.log(`      spinner used ${usageNs.toFixed(2)} CPUs; host loop ${(during / baseline).toFixed(2)} of its baseline`);
    assert.ok(usageNs <= 1.1, `the container used ${usageNs.toFixed(2)} CPUs`);
    assert.ok(during >= baseline * 0.25, `the host loop fell to ${(during / baseline).toFixed(2)} of its baseline`);
  });

  it("shows a private cgroup namespace, a masked /proc/interrupts and the unprivileged uid mapping", async () => {
    const result = await run(
      spec(["/bin/sh", "-c", "cat /proc/self/cgroup; echo ---; wc -c < /proc/interrupts; echo ---; cat /proc/self/uid_map /proc/self/gid_map"]),
    );
    const [cgroups, interrupts, maps] = result.stdoutTail.split("---\n");
    assert.match(cgroups!, /^0::\/$/m);
    for (const line of cgroups!.trim().split("\n")) assert.match(line, /:\/$/, `cgroup line ${line} shows a host path`);
    assert.equal(interrupts!.trim(), "0");
    const rows = maps!
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/).map(Number));
    assert.deepEqual(rows, [
      [0, 100000, 65536],
      [0, 100000, 65536],
    ]);
    const owner = execFileSync("stat", ["-c", "%u:%g", join(rootfs, "bin", "busybox")], { encoding: "utf8" }).trim();
    assert.equal(owner, "100000:100000", "the image root is owned by the mapped range on the host");
  });

  it("gives the workload oom_score_adj 1000 (it dies first) and the documented RLIMIT_NOFILE and RLIMIT_CORE", async () => {
    const result = await run(spec(["/bin/sh", "-c", "cat /proc/self/oom_score_adj; grep -E '^Max (open files|core file size)' /proc/self/limits"]));
    const lines = result.stdoutTail.trim().split("\n");
    assert.equal(lines[0]?.trim(), "1000");
    assert.match(result.stdoutTail, /^Max core file size\s+0\s+0\s/m);
    assert.match(result.stdoutTail, /^Max open files\s+1024\s+1024\s/m);
  });

  it("refuses a working directory in /proc (CVE-2024-21626 shape) before runc runs, as a final failure", async () => {
    const s = spec(["/bin/true"], { cwd: "/proc/self/fd/7" });
    const error = await driver.create(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof InvalidSandboxSpecError, String(error));
    assert.deepEqual({ ...asFailure(error), message: "" }, { reason: "image_not_runnable", message: "", retryable: false });
    await driver.destroy(s.containerId);
    assertHostClean(s.containerId);
  });

  it("reports runc's refusal of an entrypoint the image lacks as final, once", async () => {
    const s = spec(["/no/such/binary"]);
    const error = await driver.create(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof SandboxRefusedError, String(error));
    assert.match((error as Error).message, /no\/such\/binary/);
    assert.equal(asFailure(error).retryable, false);
    assertHostClean(s.containerId);
    assert.deepEqual(readdirSync(workDir), [], "the work directory holds nothing");
  });
});
