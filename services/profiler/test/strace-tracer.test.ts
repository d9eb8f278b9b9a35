/**
 * The strace tracer on a real cgroup and real processes. The workload is held before its exec
 * (as `runc create` holds a sandbox's init) while the tracer attaches. Ground truth never comes
 * from the tracer: the identity an exec must carry is what the workload's own stat of
 * /proc/self/exe says, the executable mappings are the ones its own /proc/self/maps lists, and
 * an opened file's identity is what stat() says of it.
 */
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkloadOutcome } from "@vexxy/proto";
import { profileFromTrace, StraceLineParser, StraceTracer, type TraceResult, type HostCgroupScope, type TracedUse, TracerAttachError } from "../src/index.js";

const CGROUP_ROOT = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";

/** The kernel's identity of a path as stat() sees it (glibc's st_dev split into major, minor). */
function identityOf(path: string): string {
  const st = statSync(path, { bigint: true });
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  return `${major}:${minor}:${st.ino}`;
}

function useIdentity(use: TracedUse): string {
  return `${use.dev >>> 20}:${use.dev & 0xfffff}:${use.inode}`;
}

function usesOf(result: TraceResult, access: TracedUse["access"]): Set<string> {
  return new Set(result.uses.filter((u) => u.access === access).map(useIdentity));
}

/** A workload that joins the cgroup and waits on a fifo before it execs `sh -c script` (as runc init waits for `runc start`). */
class HeldWorkload {
  private constructor(
    private readonly child: ChildProcess,
    private readonly fifo: string,
  ) {}

  static async create(cgroup: string, work: string, script: string, inheritedFd?: number): Promise<HeldWorkload> {
    const fifo = join(work, `go-${randomBytes(3).toString("hex")}`);
    await once(spawn("mkfifo", [fifo]), "exit");
    const child = spawn("sh", ["-c", `echo $$ > ${cgroup}/cgroup.procs && read go < ${fifo} && exec sh -c "$0"`, script], {
      stdio: inheritedFd === undefined ? "ignore" : ["ignore", "ignore", "ignore", inheritedFd],
      cwd: work,
    });
    // Held once the shell is in the cgroup (it then blocks opening the fifo).
    for (let i = 0; i < 750 && !readFileSync(`${cgroup}/cgroup.procs`, "utf8").includes(String(child.pid)); i++) await new Promise((r) => setTimeout(r, 20));
    return new HeldWorkload(child, fifo);
  }

  /** Releases the workload and waits for it to end. */
  async run(): Promise<void> {
    const exited = once(this.child, "exit");
    writeFileSync(this.fifo, "go\n");
    await exited;
  }
}

describe("strace tracer on a real cgroup (ptrace, identities read from the host side)", function () {
  this.timeout(60000);
  let cgroup: string;
  let work: string;
  const scope = (): HostCgroupScope => ({ kind: "host_cgroup", jobId: "job", attempt: 1, containerId: "c1", cgroupPath: cgroup });
  const tracer = new StraceTracer({ stracePath: "strace", stopTimeoutMs: 15000 });

  async function trace(script: string): Promise<TraceResult> {
    const workload = await HeldWorkload.create(cgroup, work, script);
    const session = await tracer.start(scope(), 15000);
    await workload.run();
    return await session.stop();
  }

  beforeEach(() => {
    cgroup = `${CGROUP_ROOT}/vexxy-strace-test-${randomBytes(4).toString("hex")}`;
    mkdirSync(cgroup);
    work = mkdtempSync(join(tmpdir(), "vexxy-strace-test-"));
  });
  afterEach(() => {
    rmSync(work, { recursive: true, force: true });
    try {
      rmdirSync(cgroup);
    } catch {
      // a process is still exiting
    }
  });

  it("attributes opens to the file the kernel opened whatever name reached it, execs to the binary the workload itself reports, and nothing before the first exec", async () => {
    const target = join(work, "data.txt");
    writeFileSync(target, "x");
    symlinkSync(target, join(work, "link"));
    linkSync(target, join(work, "hard-link"));
    const odd = join(work, 'caf\u00e9 "quote>\\.txt');
    writeFileSync(odd, "z");
    const exeOut = join(work, "exe.txt");
    const workload = await HeldWorkload.create(
      cgroup,
      work,
      `cat ./link hard-link '${odd.replace(/'/g, "'\\''")}' >/dev/null; stat -L -c '%d %i' /proc/self/exe > ${exeOut}`,
    );
    const session = await tracer.start(scope(), 15000);
    await workload.run();
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    assert.equal(result.tracer, "strace");
    assert.equal(result.identity, "inode");
    const opened = usesOf(result, "open");
    assert.ok(opened.has(identityOf(target)), "the symlink and the hard link reach the same file");
    assert.ok((result.uses.find((u) => u.access === "open" && useIdentity(u) === identityOf(target))?.count ?? 0) >= 2);
    assert.ok(opened.has(identityOf(odd)), "a name with non-ASCII bytes, a quote, '>' and a backslash");
    const [dev, ino] = readFileSync(exeOut, "utf8").trim().split(" ");
    const st = BigInt(dev ?? "0");
    const major = ((st >> 8n) & 0xfffn) | ((st >> 32n) & ~0xfffn);
    const minor = (st & 0xffn) | ((st >> 12n) & ~0xffn);
    assert.ok(usesOf(result, "exec").has(`${major}:${minor}:${ino}`), "the exec of stat, by the identity stat itself reads of /proc/self/exe");
    assert.ok(usesOf(result, "exec").has(identityOf("/usr/bin/cat")));
    assert.ok(
      result.uses.every((u) => u.firstSeenNs >= BigInt(result.startedAt.getTime() - 1000) * 1_000_000n),
      "nothing from the held shell's read of the fifo",
    );
    assert.ok(
      !result.uses.some((u) => u.label.endsWith("/go") || u.label.includes("/go-")),
      "the fifo the held shell opened before its exec is not the workload's",
    );
    // strace ends by itself once the workload is gone, or on stop()'s SIGINT if it had not yet.
    assert.match(result.diagnostics.exit, /^(exit 0|signal SIGINT)$/);
  });

  it("records every executable file mapping the workload's own /proc/self/maps shows", async () => {
    const mapsOut = join(work, "maps.txt");
    const result = await trace(`perl -e 'open(my $m, "<", "/proc/self/maps") or die; open(my $o, ">", "${mapsOut}") or die; print {$o} <$m>;'`);
    assert.deepEqual(result.lossReasons, []);
    const mapped = usesOf(result, "mmap_exec");
    const execs = usesOf(result, "exec");
    const expected = readFileSync(mapsOut, "utf8")
      .split("\n")
      .map((l) => l.split(/\s+/))
      .filter((f) => (f[1] ?? "").includes("x") && (f[5] ?? "").startsWith("/") && f[4] !== "0");
    assert.ok(expected.length >= 3, "perl maps itself, libperl and libc executable");
    for (const f of expected) {
      const [maj, min] = (f[3] ?? "").split(":").map((h) => Number.parseInt(h, 16));
      const id = `${maj}:${min}:${f[4]}`;
      // The kernel maps the program and its ELF interpreter at exec without a syscall.
      if (execs.has(id) || /\/ld-linux[^/]*$/.test(f[5] ?? "")) continue;
      assert.ok(mapped.has(id), `${f[5]} (${id}) mapped executable by the workload itself`);
    }
  });

  it("records a #! script as exec_script and its interpreter as the exec, and a re-exec of /proc/self/exe as the program running", async () => {
    const script = join(work, "script.sh");
    writeFileSync(script, "#!/bin/dash\ntrue\n");
    chmodSync(script, 0o755);
    const result = await trace(`./script.sh; perl -e 'exec {"/proc/self/exe"} "perl", "-e", "1" or die'`);
    assert.deepEqual(result.lossReasons, []);
    assert.ok(usesOf(result, "exec_script").has(identityOf(script)), "the script execve named (a relative path, from the shell's cwd)");
    assert.ok(usesOf(result, "exec").has(identityOf("/bin/dash")), "its interpreter");
    assert.ok((result.uses.find((u) => u.access === "exec" && useIdentity(u) === identityOf("/usr/bin/perl"))?.count ?? 0) >= 2, "perl, then perl again");
    // The ingestion path every tracer goes through (the profiler's sandbox.completed consumer).
    const { profile } = profileFromTrace(result, scope(), { outcome: WorkloadOutcome.EXITED_OK, durationSeconds: 1 });
    assert.ok(profile.complete);
    assert.equal(profile.tracer, "strace");
    const [major, minor, ino] = identityOf(script).split(":");
    assert.ok(
      profile.uses.some(
        (u) => u.access === "exec_script" && u.id?.devMajor === Number(major) && u.id?.devMinor === Number(minor) && u.id?.inode === BigInt(ino ?? "0"),
      ),
      "the ingestion path keeps the script's access and identity",
    );
  });

  it("records a regular file whose fd the workload got without a traced open (inherited) when it closes it", async () => {
    const file = join(work, "inherited.txt");
    writeFileSync(file, "i");
    const fd = openSync(file, "r");
    try {
      const workload = await HeldWorkload.create(cgroup, work, "cat /dev/null; exec 3<&-", fd);
      const session = await tracer.start(scope(), 15000);
      await workload.run();
      const result = await session.stop();
      assert.deepEqual(result.lossReasons, []);
      assert.ok(usesOf(result, "open").has(identityOf(file)), "the inherited file, recorded at its close");
    } finally {
      closeSync(fd);
    }
  });

  it("marks the trace incomplete (unattributed_use) for an exec through /proc/self/fd, whose file strace cannot name", async () => {
    const result = await trace("exec 5</usr/bin/true; /proc/self/fd/5");
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("unattributed_use:") && r.includes("/proc/self/fd/5")),
      result.lossReasons.join(","),
    );
    assert.ok(
      result.uses.some((u) => u.access === "exec" && u.dev === 0 && u.inode === 0n),
      "kept without an identity",
    );
  });

  it("marks the trace incomplete (untraced_process) when a process joins the cgroup from outside the traced tree, as runc exec does", async () => {
    const workload = await HeldWorkload.create(cgroup, work, "sleep 1.5");
    const session = await tracer.start(scope(), 15000);
    const run = workload.run();
    await new Promise((r) => setTimeout(r, 300));
    const outsider = spawn("sh", ["-c", `echo $$ > ${cgroup}/cgroup.procs && sleep 0.5`], { stdio: "ignore" });
    await once(outsider, "exit");
    await run;
    const result = await session.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("untraced_process:") && r.includes(String(outsider.pid))),
      result.lossReasons.join(","),
    );
  });

  it("refuses to attach (TracerAttachError) to a cgroup with no process, so the workload never starts untraced", async () => {
    await assert.rejects(tracer.start(scope(), 5000), /no process to trace/);
  });

  it("follows host cgroups only: lists host_cgroup alone in scopeKinds and refuses a container scope with TracerAttachError", async () => {
    assert.deepEqual([...tracer.scopeKinds], ["host_cgroup"]);
    await assert.rejects(
      tracer.start(
        { kind: "container", jobId: "job", attempt: 1, containerId: "c1", node: "node-a", runtimeContainerId: "3f2a9c", runtime: "containerd" },
        5000,
      ),
      (error: unknown) => error instanceof TracerAttachError && /strace tracer follows host cgroups only/.test(error.message),
    );
  });

  it("marks the trace incomplete with tracer_died, naming the signal, when strace is killed mid-run", async () => {
    const workload = await HeldWorkload.create(cgroup, work, "sleep 0.2");
    const session = await tracer.start(scope(), 15000);
    assert.ok(session.pid !== undefined);
    process.kill(session.pid, "SIGKILL");
    for (let i = 0; i < 50 && !session.died; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(session.died, true);
    await workload.run();
    const result = await session.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("tracer_died: strace signal SIGKILL")),
      result.lossReasons.join(","),
    );
  });
});

describe("strace output parsing", () => {
  it("joins a syscall split by another task's line and decodes hex paths with any bytes", () => {
    const p = new StraceLineParser();
    assert.equal(p.push("10 1700000000.000001 vfork( <unfinished ...>"), undefined);
    const child = p.push('11 1700000000.000002 openat(AT_FDCWD<\\x2f>, "\\x2f\\x3e", O_RDONLY) = 3<\\x2f\\x3e\\x20\\xc3\\xa9>');
    assert.equal(child?.kind, "syscall");
    assert.equal(child?.kind === "syscall" ? child.retPath : "", "/> \u00e9");
    const resumed = p.push("10 1700000000.000003 <... vfork resumed>) = 11");
    assert.ok(resumed?.kind === "syscall" && resumed.name === "vfork" && resumed.ret === 11n && !resumed.argsLost);
    const failed = p.push('11 1700000000.000004 openat(AT_FDCWD<\\x2f>, "\\x2f\\x78", O_RDONLY) = -1 ENOENT (No such file or directory)');
    assert.ok(failed?.kind === "syscall" && failed.ret === -1n && failed.retPath === undefined);
    const padded = p.push("11 1700000000.000005 close(3<\\x2f>)  = 0");
    assert.ok(padded?.kind === "syscall" && padded.name === "close" && padded.ret === 0n && padded.args === "3<\\x2f>", "a short call padded to the = column");
    assert.equal(p.push("11 1700000000.000006 +++ exited with 0 +++")?.kind, "end");
    assert.equal(p.push("garbage")?.kind, "unparsed");
  });
});
