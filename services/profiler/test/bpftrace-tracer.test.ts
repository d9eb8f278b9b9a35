/**
 * The bpftrace tracer on a real cgroup. Ground truth never comes from the tracer: the identity a
 * use must carry is what stat() says of the file, and the executable mappings a process must
 * show are the ones its own /proc/self/maps lists.
 */
import { strict as assert } from "node:assert";
import { spawn, execFileSync } from "node:child_process";
import {
  closeSync,
  openSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
  existsSync,
  symlinkSync,
  linkSync,
  statSync,
  mkdtempSync,
  rmSync,
  chmodSync,
} from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { WorkloadOutcome } from "@vexxy/proto";
import {
  BpftraceTracer,
  buildProfile,
  parseTraceeJsonLines,
  toTraceeEvents,
  type TraceResult,
  type HostCgroupScope,
  type TracedUse,
  TracerAttachError,
} from "../src/index.js";

const CGROUP_ROOT = existsSync("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";

/** Runs `sh -c script` inside the cgroup (the child moves itself in before exec). */
async function runInCgroup(cgroup: string, script: string, cwd = "/"): Promise<void> {
  const child = spawn("sh", ["-c", `echo $$ > ${cgroup}/cgroup.procs && exec sh -c "$0"`, script], { stdio: "ignore", cwd });
  await once(child, "exit");
}

/** The kernel's identity of a path as stat() sees it (glibc's st_dev split into major, minor). */
function identityOf(path: string): string {
  const st = statSync(path, { bigint: true });
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  return `${major}:${minor}:${st.ino}`;
}

/** The identity of a traced use (the kernel's s_dev is major << 20 | minor). */
function useIdentity(use: TracedUse): string {
  return `${use.dev >>> 20}:${use.dev & 0xfffff}:${use.inode}`;
}

function usesOf(result: TraceResult, access: TracedUse["access"]): Set<string> {
  return new Set(result.uses.filter((u) => u.access === access).map(useIdentity));
}

describe("bpftrace tracer on a real cgroup (file identities read in the kernel)", function () {
  this.timeout(60000);
  let cgroup: string;
  let work: string;
  const scope = (): HostCgroupScope => ({ kind: "host_cgroup", jobId: "job", attempt: 1, containerId: "c1", cgroupPath: cgroup });
  const tracer = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 4096, stopTimeoutMs: 15000 });

  beforeEach(() => {
    cgroup = `${CGROUP_ROOT}/vexxy-test-${randomBytes(4).toString("hex")}`;
    mkdirSync(cgroup);
    work = mkdtempSync(join(tmpdir(), "vexxy-bt-test-"));
  });
  afterEach(() => {
    rmSync(work, { recursive: true, force: true });
    for (const dir of [`${cgroup}/a/b`, `${cgroup}/a`, cgroup]) {
      try {
        rmdirSync(dir);
      } catch {
        // absent, or a process is still exiting
      }
    }
  });

  it("attributes opens to the file the kernel opened, whatever name reached it, and records nothing from outside the cgroup", async () => {
    const target = join(work, "data.txt");
    writeFileSync(target, "x");
    symlinkSync(target, join(work, "link-made-at-run-time"));
    linkSync(target, join(work, "hard-link"));
    const long = join(work, ...Array.from({ length: 12 }, (_, i) => `directory-level-${i}-padding`));
    mkdirSync(long, { recursive: true });
    const longFile = join(long, "deep.txt");
    writeFileSync(longFile, "y");
    assert.ok(longFile.length > 250);
    const odd = join(work, 'caf\u00e9-"quote\\.txt');
    writeFileSync(odd, "z");
    const outside = join(work, "outside.txt");
    writeFileSync(outside, "o");
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(
      cgroup,
      `${[
        `cat ${work}/link-made-at-run-time`,
        `cat /proc/self/root${work}/hard-link`,
        `cat ./deep.txt`,
        `cat '${odd.replace(/'/g, "'\\''")}'`,
        `exec 7<${target}; cat /proc/self/fd/7`,
      ].join(" >/dev/null; ")} >/dev/null`,
      long,
    );
    execFileSync("cat", [outside]);
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    assert.equal(result.identity, "inode");
    const opened = usesOf(result, "open");
    assert.ok(opened.has(identityOf(target)), "the symlink, /proc/self/root, hard-link and /proc/self/fd names all reach the file");
    assert.ok((result.uses.find((u) => u.access === "open" && useIdentity(u) === identityOf(target))?.count ?? 0) >= 4);
    assert.ok(opened.has(identityOf(longFile)), "a file under a path longer than the string limit, opened by a relative name");
    assert.ok(opened.has(identityOf(odd)), "a name with non-ASCII bytes, a quote and a backslash");
    assert.ok(opened.has(identityOf("/usr/lib/x86_64-linux-gnu/libc.so.6")), "the loader's open of libc");
    assert.ok(!opened.has(identityOf(outside)), "an open outside the cgroup is not recorded");
    assert.ok(usesOf(result, "exec").has(identityOf("/usr/bin/cat")), "the exec of cat, by the identity of the binary");
    assert.equal(result.diagnostics.filteredCgroupId, statSync(cgroup, { bigint: true }).ino);
    assert.equal(result.diagnostics.exit, "exit 0");
    assert.ok(result.diagnostics.outputBytes > 0);
  });

  it("records execs by the binary the kernel ran: by fd (/proc/self/fd), a #! script's interpreter, and the script opened by it", async () => {
    const script = join(work, "script.sh");
    writeFileSync(script, "#!/bin/dash\ntrue\n");
    chmodSync(script, 0o755);
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, `exec 5</usr/bin/true; /proc/self/fd/5; ${script}`);
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    const execs = usesOf(result, "exec");
    assert.ok(execs.has(identityOf("/usr/bin/true")), "execveat-style exec through /proc/self/fd/5");
    assert.ok(execs.has(identityOf("/bin/dash")), "the interpreter of the #! script");
    assert.ok(usesOf(result, "open").has(identityOf(script)), "the script, opened by its interpreter");
  });

  it("records every executable file mapping the workload's own /proc/self/maps shows", async () => {
    const mapsOut = join(work, "maps.txt");
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, `perl -MPOSIX -MFcntl -e 'open(my $m, "<", "/proc/self/maps") or die; open(my $o, ">", "${mapsOut}") or die; print {$o} <$m>;'`);
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    const mapped = new Set([...usesOf(result, "mmap_exec"), ...usesOf(result, "exec")]);
    const exe = identityOf("/usr/bin/perl");
    const ldso = readFileSync(mapsOut, "utf8")
      .split("\n")
      .find((l) => /\/ld-linux[^ ]*$/.test(l))
      ?.split(/\s+/)
      .pop();
    const truth = new Set<string>();
    for (const line of readFileSync(mapsOut, "utf8").split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 6 || !fields[1]!.includes("x") || !fields[5]!.startsWith("/")) continue;
      truth.add(identityOf(fields[5]!));
    }
    assert.ok(truth.size >= 4, `maps listed ${truth.size} executable file mappings`);
    // The kernel maps the binary and its ELF interpreter itself (no mmap syscall): the exec use and the catalogue's PT_INTERP cover them.
    for (const id of truth) {
      if (id === exe || (ldso !== undefined && id === identityOf(ldso))) continue;
      assert.ok(mapped.has(id), `executable mapping ${id} missing from the trace`);
    }
    const posix = readFileSync(mapsOut, "utf8")
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[5] ?? "")
      .find((p) => p.endsWith("/POSIX.so"));
    assert.ok(posix !== undefined && usesOf(result, "mmap_exec").has(identityOf(posix)), "POSIX.so (dlopen'ed) mapped executable");
  });

  it("records a regular file whose fd the workload got without a traced open (inherited) when it closes it", async () => {
    const file = join(work, "inherited.txt");
    writeFileSync(file, "i");
    const fd = openSync(file, "r");
    try {
      const session = await tracer.start(scope(), 15000);
      const child = spawn("sh", ["-c", `echo $$ > ${cgroup}/cgroup.procs && exec sh -c "cat /dev/null; exec 3<&-"`], {
        stdio: ["ignore", "ignore", "ignore", fd],
        cwd: "/",
      });
      await once(child, "exit");
      const result = await session.stop();
      assert.deepEqual(result.lossReasons, []);
      assert.ok(usesOf(result, "open").has(identityOf(file)), "the inherited file, recorded at its close");
    } finally {
      closeSync(fd);
    }
  });

  it("keeps tracing a process that moves itself into a child cgroup", async () => {
    mkdirSync(`${cgroup}/a/b`, { recursive: true });
    const file = join(work, "after-move.txt");
    writeFileSync(file, "m");
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, `echo $$ > ${cgroup}/a/b/cgroup.procs; exec cat ${file}`);
    const result = await session.stop();
    assert.deepEqual(result.lossReasons, []);
    assert.ok(usesOf(result, "open").has(identityOf(file)), "the open after the move is recorded");
  });

  it("marks the trace incomplete (scope_left) when a process moves itself out of the cgroup subtree, but not for a move inside it", async () => {
    mkdirSync(`${cgroup}/a/b`, { recursive: true });
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, `echo $$ > ${cgroup}/a/b/cgroup.procs; cat /etc/hostname >/dev/null`);
    const inside = await session.stop();
    assert.deepEqual(inside.lossReasons, []);
    const again = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, `echo $$ > ${CGROUP_ROOT}/cgroup.procs; cat /etc/hostname >/dev/null`);
    const result = await again.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("scope_left:")),
      result.lossReasons.join(","),
    );
  });

  it("marks the trace incomplete when io_uring hands out a ring (an untraced channel)", async () => {
    const session = await tracer.start(scope(), 15000);
    // io_uring_setup(8, params): 425 on x86_64; the ring fd is the channel.
    await runInCgroup(cgroup, `perl -e 'my $p = "\\0" x 120; my $fd = syscall(425, 8, $p); exit($fd >= 0 ? 0 : 1)'`);
    const result = await session.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("untraced_channel:io_uring_setup")),
      result.lossReasons.join(","),
    );
    assert.ok(result.channelAttempts.some((a) => a.syscall === "io_uring_setup" && a.succeeded === 1));
  });

  it("marks the trace incomplete with map_full when a map reaches BPFTRACE_MAP_KEYS_MAX", async () => {
    const small = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 16, stopTimeoutMs: 15000 });
    for (let i = 0; i < 25; i++) writeFileSync(join(work, `f${i}`), String(i));
    const session = await small.start(scope(), 15000);
    await runInCgroup(cgroup, `for f in ${work}/f*; do cat $f >/dev/null; done; true`);
    const result = await session.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("map_full:@use")),
      result.lossReasons.join(","),
    );
  });

  it("keeps the maps END printed when bpftrace's detach afterwards hangs (killed after a short grace, trace complete)", async () => {
    // A stand-in for bpftrace whose probe detach never ends: it prints the marker, then on SIGINT
    // prints END's maps and the done marker, and ignores everything but SIGKILL.
    const fake = join(work, "slow-detach-bpftrace");
    writeFileSync(
      fake,
      String.raw`#!/bin/sh
emit() {
  printf '%s\n' '{"type": "map", "data": {"@t0": 1}}'
  printf '%s\n' '{"type": "map", "data": {"@use": {"1,266338304,612": 3, "2,266338304,260131": 1}}}'
  printf '%s\n' '{"type": "printf", "data": "VEXXY_MAPS_DONE\n"}'
  trap '' INT TERM
  while :; do sleep 1; done
}
trap emit INT
printf '%s\n' '{"type": "printf", "data": "ATTACHED\n"}'
while :; do sleep 1; done
`,
    );
    chmodSync(fake, 0o755);
    const slow = new BpftraceTracer({ bpftracePath: fake, mapKeysMax: 4096, stopTimeoutMs: 30000 });
    const session = await slow.start(scope(), 15000);
    const began = Date.now();
    const result = await session.stop();
    assert.ok(Date.now() - began < 10000, `stop took ${Date.now() - began} ms`);
    assert.deepEqual(result.lossReasons, []);
    assert.equal(result.uses.length, 2);
    assert.match(result.diagnostics.exit, /killed after printing its maps/);
  });

  it("refuses to attach to a cgroup that does not exist", async () => {
    await assert.rejects(tracer.start({ ...scope(), cgroupPath: `${cgroup}-missing` }, 5000), /does not exist/);
  });

  it("follows host cgroups only: lists host_cgroup alone in scopeKinds and refuses a container scope with TracerAttachError", async () => {
    assert.deepEqual([...tracer.scopeKinds], ["host_cgroup"]);
    await assert.rejects(
      tracer.start(
        { kind: "container", jobId: "job", attempt: 1, containerId: "c1", node: "node-a", runtimeContainerId: "3f2a9c", runtime: "containerd" },
        5000,
      ),
      (error: unknown) => error instanceof TracerAttachError && /bpftrace tracer follows host cgroups only/.test(error.message),
    );
  });

  it("turns the identity trace into a profile whose uses carry (major, minor, inode), diagnostics and channel attempts", async () => {
    const session = await tracer.start(scope(), 15000);
    await runInCgroup(cgroup, "cat /etc/hostname >/dev/null");
    const result = await session.stop();
    const profile = buildProfile(toTraceeEvents(result, scope()), {
      jobId: "job",
      attempt: 1,
      tracer: "bpftrace",
      containerId: "c1",
      lossReasons: result.lossReasons,
      outcome: WorkloadOutcome.EXITED_OK,
      durationSeconds: 1,
      identity: result.identity,
      untracedChannelAttempts: result.channelAttempts,
      diagnostics: result.diagnostics,
    });
    assert.equal(profile.identity, "inode");
    assert.ok(profile.complete, profile.lossReasons.join("; "));
    const [major, minor, ino] = identityOf("/etc/hostname").split(":");
    assert.ok(
      profile.uses.some((u) => u.access === "open" && u.id?.devMajor === Number(major) && u.id?.devMinor === Number(minor) && u.id?.inode === BigInt(ino!)),
    );
    assert.ok(profile.uses.some((u) => u.access === "exec" && u.path === "/usr/bin/cat" && u.firstPid > 0 && u.count >= 1n));
    assert.equal(profile.files.length, 0, "an inode trace's labels are not paths");
    assert.equal(profile.diagnostics?.filteredCgroupId, result.cgroupId);
  });
  // Last in this block: a killed bpftrace tears its probes down in the kernel for a while, and a
  // bpftrace started meanwhile has been seen to wait 15 s+ for its END output (see the note).
  it("marks the trace incomplete with tracer_died, naming the signal, when bpftrace is killed mid-run", async () => {
    const session = await tracer.start(scope(), 15000);
    // Only this session's bpftrace, by its pid (setpriv execs bpftrace in the same process).
    assert.ok(session.pid !== undefined);
    process.kill(session.pid, "SIGKILL");
    for (let i = 0; i < 50 && !session.died; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(session.died, true);
    const result = await session.stop();
    assert.ok(
      result.lossReasons.some((r) => r.startsWith("tracer_died: bpftrace signal SIGKILL")),
      result.lossReasons.join(","),
    );
  });
});

describe("Tracee event ingestion", () => {
  const forensics = () => parseTraceeJsonLines(readFileSync(fileURLToPath(new URL("./fixtures/tracee-forensics-events.jsonl", import.meta.url)), "utf8"));
  const traceeContext = { jobId: "j", attempt: 1, tracer: "tracee", containerId: "", lossReasons: [], outcome: WorkloadOutcome.EXITED_OK, durationSeconds: 1 };

  it("reads real Tracee JSON events into a profile: opened and read files, relative paths apart", () => {
    const events = forensics();
    assert.equal(events.length, 6);
    const profile = buildProfile(events, traceeContext);
    assert.ok(profile.files.some((f) => f.path === "/tmp/testing.txt" && f.access === "open" && f.countOk > 0n));
    assert.ok(!profile.files.some((f) => f.access === "exec"));
  });

  it("keeps Tracee's own dev and inode args as identities in a kernel_path profile", () => {
    const profile = buildProfile(forensics(), { ...traceeContext, identity: "kernel_path" });
    assert.equal(profile.identity, "kernel_path");
    const use = profile.uses.find((u) => u.path === "/tmp/testing.txt");
    assert.ok(use?.id !== undefined && use.id.inode > 0n, "the fixture's security_file_open carries dev and inode");
  });

  it("keeps only the events of the traced container and is incomplete when a loss is reported", () => {
    const mk = (container: string, path: string) =>
      JSON.stringify({
        timestamp: 1,
        processId: 1,
        cgroupId: 1,
        containerId: container,
        eventName: "security_file_open",
        args: [{ name: "pathname", type: "const char*", value: path }],
      });
    const text = [mk("mine", "/usr/lib/a.so"), mk("other", "/usr/lib/b.so")].join("\n");
    const profile = buildProfile(parseTraceeJsonLines(text), {
      jobId: "j",
      attempt: 1,
      tracer: "tracee",
      containerId: "mine",
      lossReasons: ["events_lost"],
      outcome: WorkloadOutcome.EXITED_OK,
      durationSeconds: 1,
    });
    assert.deepEqual(
      profile.files.map((f) => f.path),
      ["/usr/lib/a.so"],
    );
    assert.equal(profile.complete, false);
  });
});
