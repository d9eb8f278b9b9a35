/**
 * Red-team verdict suite (issue 6): a workload that tries to use a package without being seen.
 *
 * One prepared root per run: the demo image unpacked by the sandbox's own intake (prepareImage)
 * into a temp dir, the workloads of every case stored under /opt/redteam (with a hard link and
 * symlinks "in the image"), one catalogue built on it. Each case runs through the real
 * RuncRuntime (the local driver's container half) with the real seccomp profile and the real BpftraceTracer, in the sandbox
 * stage's order (create -> tracer start -> start -> wait -> tracer stop -> destroy), then the
 * profile is scored against a Grype-format scan naming every installed package.
 *
 * Per case: the used package is never not_affected (affected, with the evidence kind the channel
 * must produce, when the trace is complete); the controls (login, passwd, apt: used by no case,
 * checked against the ground truth) are not_affected in every complete trace and never
 * not_affected in an incomplete one; and the ground truth from OUTSIDE the tracer — perl's own
 * stat(/proc/self/exe) and /proc/self/maps, stat -L of files read — mapped to packages through
 * the root's dpkg .list files (not our catalogue), is never not_affected.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { VexJustification, VexStatus, WorkloadOutcome, type ImageCatalogue, type Verdict } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { buildDemoImage, resolveImageInput } from "@vexxy/deploy-local";
import { RuncRuntime, allCgroupDirsFor, buildCatalogue, prepareImage, type SandboxWaitResult } from "@vexxy/sandbox";
import { BpftraceTracer, buildProfile, toTraceeEvents, type TraceResult, type TraceScope } from "@vexxy/profiler";
import { parseVulnerabilityReport, scoreReachability, type VulnerabilityReport } from "@vexxy/reachability";
import { dpkgOwnersByIdentity, installedPackages, parseSelfReport, type IdentityKey, type SelfReport } from "./support/red-team/ground-truth.js";
import { findingIdOf, grypeScanFor } from "./support/red-team/scan.js";
import { installRedTeamFiles } from "./support/red-team/workloads.js";

/** Packages no case uses: each must stay not_affected in every complete trace. */
const CONTROLS = ["login", "passwd", "apt"] as const;
const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const REPORT = "/opt/redteam/report.pl";

type EvidenceKind = "code_executed" | "code_mapped" | "file_read";

interface RedTeamCase {
  readonly channel: string;
  /** argv of the workload. */
  readonly args: readonly string[];
  /** Package -> evidence kinds of which at least one must appear when the trace is complete. */
  readonly used: Readonly<Record<string, readonly EvidenceKind[]>>;
  /** Run with the seccomp profile (the production default). */
  readonly seccomp: boolean;
  readonly expectComplete: boolean;
  /** Reachability fails closed on this complete trace: the controls must be under_investigation, the reason matching. */
  readonly controlsFailClosed?: RegExp;
  /** Used packages the self-report cannot show (the workload ran a copy of their file). */
  readonly notInTruth?: readonly string[];
  /** Extra checks on what the run reported. */
  readonly check?: (run: CaseRun) => void;
}

interface CaseRun {
  readonly waited: SandboxWaitResult;
  readonly trace: TraceResult;
  readonly complete: boolean;
  readonly verdicts: ReadonlyMap<string, Verdict>;
  readonly self: SelfReport;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

interface SummaryRow {
  readonly channel: string;
  readonly used: string;
  readonly control: string;
  readonly complete: string;
  readonly suppressed: string;
  readonly seconds: number;
}

const sh = (script: string): string[] => ["/bin/sh", "-c", script];

const CASES: readonly RedTeamCase[] = [
  {
    channel: "exec through a symlink made at run time in /tmp",
    args: sh(`ln -s /usr/bin/perl /tmp/rt-perl && /tmp/rt-perl ${REPORT}`),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
  },
  {
    channel: "exec through /proc/self/root/usr/bin/perl",
    args: sh(`/proc/self/root/usr/bin/perl ${REPORT}`),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
  },
  {
    channel: 'exec by fd: /proc/self/fd/3, /dev/fd/3 and execveat(fd, "", AT_EMPTY_PATH)',
    args: sh(`exec 3</usr/bin/perl; /proc/self/fd/3 ${REPORT} && /dev/fd/3 ${REPORT} && /opt/redteam/hl-perl /opt/redteam/execveat.pl`),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => {
      assert.ok(!run.stdout.includes("RT-EXECVEAT-FAILED"), `execveat failed: ${run.stdout}`);
      assert.ok(run.stdout.split("\n").filter((l) => l.startsWith("RT-EXE ")).length >= 3, "three self-reports (fd 3 twice, execveat once)");
    },
  },
  {
    channel: "relative name in a directory of links (cd /usr/bin && ./perl) and an alternatives-style chain",
    args: sh(`cd /usr/bin && ./perl ${REPORT} && cd /opt/redteam/alt && ./perl ${REPORT}`),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
  },
  {
    channel: "hard link stored in the image (/opt/redteam/hl-perl, a name no package lists)",
    args: ["/opt/redteam/hl-perl", REPORT],
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
  },
  {
    channel: "path longer than 200 bytes (deep dirs, a chain of directory symlinks, relative) and a name with non-ASCII bytes",
    args: sh(
      [
        `d=/tmp; i=0; while [ $i -lt 12 ]; do d="$d/directory-level-$i-with-padding-bytes"; i=$((i+1)); done`,
        `mkdir -p "$d" && ln -s /usr/bin/perl "$d/perl-at-depth"`,
        `[ \${#d} -gt 200 ] || exit 3`,
        `"$d/perl-at-depth" ${REPORT} || exit 4`,
        `ln -s "$d" /tmp/s1; i=1; while [ $i -lt 9 ]; do ln -s /tmp/s$i /tmp/s$((i+1)); i=$((i+1)); done`,
        `/tmp/s9/perl-at-depth ${REPORT} || exit 5`,
        `(cd "$d" && ./perl-at-depth ${REPORT}) || exit 6`,
        `n=$(printf '/tmp/caf\\303\\251-\\377-perl'); ln -s /usr/bin/perl "$n" && "$n" ${REPORT}`,
      ].join("; "),
    ),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
    check: (run) =>
      assert.ok(run.stdout.split("\n").filter((l) => l.startsWith("RT-EXE ")).length >= 4, `four self-reports expected: ${run.stdout.slice(0, 400)}`),
  },
  {
    channel: "#! scripts: #!/usr/bin/perl -w, an interpreter link no list names, the hard link, and a link made at run time in /tmp",
    args: sh(
      "ln -s /usr/bin/perl /tmp/rt-interp && /opt/redteam/sb-direct.pl && /opt/redteam/sb-link.pl && /opt/redteam/sb-hardlink.pl && /opt/redteam/sb-tmp.pl",
    ),
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => assert.ok(run.stdout.split("\n").filter((l) => l.startsWith("RT-EXE ")).length >= 4, "four self-reports expected"),
  },
  {
    channel: "files only READ, never executed: perl-base's strict.pm through a /proc/self/fd magic link, debian-archive-keyring through /proc/self/root",
    args: sh(
      [
        "exec 4</usr/lib/x86_64-linux-gnu/perl-base/strict.pm",
        "cat /proc/self/fd/4 >/dev/null",
        "stat -L -c 'RT-READ %d %i' /proc/self/fd/4",
        "cat /proc/self/root/usr/share/keyrings/debian-archive-keyring.gpg >/dev/null",
        "stat -L -c 'RT-READ %d %i' /proc/self/root/usr/share/keyrings/debian-archive-keyring.gpg",
      ].join(" && "),
    ),
    used: { "perl-base": ["file_read"], "debian-archive-keyring": ["file_read"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => {
      assert.equal(run.self.reads.size, 2, run.stdout);
      const perl = run.verdicts.get("perl-base");
      assert.ok(!perl?.evidence.some((e) => e.kind === "code_executed" || e.kind === "code_mapped"), "perl never ran in this case: read evidence only");
    },
  },
  {
    channel: "shared libraries loaded with dlopen (POSIX.so of perl-base, libgmp.so.10 of libgmp10)",
    args: ["/usr/bin/perl", "/opt/redteam/dlopen.pl"],
    used: { "perl-base": ["code_mapped"], libgmp10: ["code_mapped"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => {
      assert.ok(
        [...run.self.maps.values()].some((p) => p === "POSIX.so"),
        "POSIX.so mapped (ground truth)",
      );
      assert.ok(
        [...run.self.maps.values()].some((p) => p.includes("libgmp.so")),
        "libgmp mapped (ground truth)",
      );
    },
  },
  {
    channel: "io_uring with the seccomp profile ON: denied, attempt listed, trace complete",
    args: ["/usr/bin/perl", "/opt/redteam/io-uring.pl"],
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => {
      assert.match(run.stdout, /^RT-URING -1 errno=1 /m, "io_uring_setup must fail with EPERM under the profile");
      const attempt = run.trace.channelAttempts.find((a) => a.syscall === "io_uring_setup");
      assert.ok(attempt !== undefined && attempt.failed >= 1 && attempt.succeeded === 0, `attempt listed: ${JSON.stringify(run.trace.channelAttempts)}`);
    },
  },
  {
    channel: "io_uring with the seccomp profile OFF (test-only driver option): the ring is handed out, the trace is incomplete",
    args: ["/usr/bin/perl", "/opt/redteam/io-uring.pl"],
    used: { "perl-base": ["code_executed"] },
    seccomp: false,
    expectComplete: false,
    check: (run) => {
      assert.match(run.stdout, /^RT-URING \d+ ring$/m, "io_uring_setup succeeds without the profile");
      assert.ok(
        run.trace.lossReasons.some((r) => r.startsWith("untraced_channel:io_uring_setup")),
        run.trace.lossReasons.join(","),
      );
    },
  },
  {
    channel: "moving into a child cgroup / unsharing user+mount+cgroup namespaces, seccomp ON (denied; the re-exec is still traced)",
    args: ["/usr/bin/perl", "/opt/redteam/escape.pl"],
    used: { "perl-base": ["code_executed"] },
    seccomp: true,
    expectComplete: true,
    check: (run) => {
      assert.match(run.stdout, /^RT-UNSHARE user\+mnt\+cgroup denied/m);
      assert.match(run.stdout, /^RT-MOUNT cgroup2 denied/m);
      assert.doesNotMatch(run.stdout, /^RT-MOVE .* ok$/m);
      assert.equal(run.self.exes.size, 1, "the re-exec after the attempts reported");
    },
  },
  {
    channel: "moving into a child cgroup / unsharing namespaces, seccomp OFF (what a weaker runtime allows; the re-exec must still be traced)",
    args: ["/usr/bin/perl", "/opt/redteam/escape.pl"],
    used: { "perl-base": ["code_executed"] },
    seccomp: false,
    expectComplete: true,
    check: (run) => {
      assert.doesNotMatch(run.stdout, /^RT-MOVE .* ok$/m, "the workload left its cgroup: the suite must learn how");
      assert.equal(run.self.exes.size, 1, "the re-exec after the attempts reported");
    },
  },
  {
    channel: "the dynamic loader run directly: /lib64/ld-linux-x86-64.so.2 /usr/bin/perl (perl is mapped, never exec'd)",
    args: ["/lib64/ld-linux-x86-64.so.2", "/usr/bin/perl", REPORT],
    used: { "perl-base": ["code_mapped", "file_read"], libc6: ["code_executed"] },
    seccomp: true,
    expectComplete: true,
  },
  {
    channel:
      "a copy of the binary in /tmp (the exec'd inode belongs to no package; cp read the package's file; its kernel-loaded ELF interpreter is unknown, so the controls fail closed)",
    args: sh(`cp /usr/bin/perl /tmp/rt-copy && /tmp/rt-copy ${REPORT}`),
    used: { "perl-base": ["file_read"] },
    notInTruth: ["perl-base"],
    seccomp: true,
    expectComplete: true,
    controlsFailClosed: /created at run time/,
  },
];

describe(`red-team verdicts on real runc + bpftrace: ${CASES.map((c, i) => `(${i + 1}) ${c.channel.split(/[:(]/)[0]!.trim()}`).join("; ")}`, function () {
  this.timeout(600000);
  let dir: TempDir;
  let rootfsDir: string;
  let catalogue: ImageCatalogue;
  let report: VulnerabilityReport;
  let owners: Map<IdentityKey, Set<string>>;
  let withProfile: RuncRuntime;
  let withoutProfile: RuncRuntime;
  const created = new Set<{ driver: RuncRuntime; id: string }>();
  const everyId: string[] = [];
  const tracer = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 65536, stopTimeoutMs: 30000 });
  const summary: SummaryRow[] = [];
  const timings: Record<string, number> = {};

  before(async function () {
    this.timeout(300000);
    const t0 = Date.now();
    const demo = await buildDemoImage(() => undefined);
    const image = await resolveImageInput(demo.ociLayoutDir);
    dir = await tempDir("red-team");
    // A fresh unpack (the sandbox shifts the root's ownership to 100000+; the cache stays untouched).
    const prepared = await prepareImage({ imageRef: image.imageRef, expectedDigest: image.imageDigest, workDir: join(dir.path, "image") });
    rootfsDir = prepared.rootfsDir;
    installRedTeamFiles(rootfsDir);
    timings["prepare"] = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    catalogue = await buildCatalogue(rootfsDir, prepared.manifestDigest);
    timings["catalogue"] = (Date.now() - t1) / 1000;
    owners = dpkgOwnersByIdentity(rootfsDir);
    const installed = installedPackages(rootfsDir);
    for (const control of CONTROLS)
      assert.ok(
        installed.some((p) => p.name === control),
        `control ${control} is installed`,
      );
    report = parseVulnerabilityReport(grypeScanFor(installed, prepared.manifestDigest));
    withProfile = new RuncRuntime({ workDir: join(dir.path, "bundles") });
    withoutProfile = new RuncRuntime({ workDir: join(dir.path, "bundles-unconfined"), omitSeccomp: true });
  });

  after(async () => {
    for (const { driver, id } of created) await driver.destroy(id).catch((error: unknown) => console.error(`destroy ${id}: ${String(error)}`));
    await dir?.remove();
    const line = (r: Omit<SummaryRow, "seconds"> & { seconds: string }): string =>
      `      ${r.channel.slice(0, 60).padEnd(60)} | ${r.used.padEnd(58)} | ${r.control.padEnd(59)} | ${r.complete.padEnd(8)} | ${r.suppressed.padEnd(10)} | ${r.seconds}`;
    console.log(`\n      red-team summary (prepare ${timings["prepare"]?.toFixed(1)} s, catalogue ${timings["catalogue"]?.toFixed(1)} s)`);
    console.log(
      line({
        channel: "channel",
        used: "used package verdict",
        control: "control verdict",
        complete: "complete",
        suppressed: "suppressed",
        seconds: "seconds",
      }),
    );
    for (const r of summary) console.log(line({ ...r, seconds: r.seconds.toFixed(1) }));
  });

  async function runCase(c: RedTeamCase): Promise<CaseRun> {
    const driver = c.seccomp ? withProfile : withoutProfile;
    const id = `vexxy-rt${randomBytes(4).toString("hex")}-1`;
    everyId.push(id);
    const t0 = Date.now();
    const handle = await driver.create({ containerId: id, rootfsDir, process: { args: c.args, env: [PATH, "LC_ALL=C"], cwd: "/", uid: 0, gid: 0 } });
    const entry = { driver, id };
    created.add(entry);
    const scope: TraceScope = { kind: "host_cgroup", jobId: `rt-${id}`, attempt: 1, containerId: id, cgroupPath: handle.cgroupV2Path };
    let trace: TraceResult;
    let waited: SandboxWaitResult;
    try {
      // 60 s, not the 15 s of the unit test: other suites share this machine and bpftrace attach slows under load.
      const session = await tracer.start(scope, 60000);
      try {
        await driver.start(id);
        waited = await driver.wait(id, 60000);
      } finally {
        trace = await session.stop();
      }
    } finally {
      await driver.destroy(id);
      created.delete(entry);
    }
    const profile = buildProfile(toTraceeEvents(trace, scope), {
      jobId: scope.jobId,
      attempt: 1,
      tracer: "bpftrace",
      containerId: id,
      lossReasons: trace.lossReasons,
      outcome: waited.outcome,
      durationSeconds: waited.durationSeconds,
      identity: trace.identity,
      untracedChannelAttempts: trace.channelAttempts,
      diagnostics: trace.diagnostics,
    });
    const scored = scoreReachability({ catalogue, profile, report });
    const verdicts = new Map(scored.verdicts.map((v) => [v.packageName, v]));
    return {
      waited,
      trace,
      complete: profile.complete,
      verdicts,
      self: parseSelfReport(waited.stdoutTail),
      stdout: waited.stdoutTail,
      stderr: waited.stderrTail,
      seconds: (Date.now() - t0) / 1000,
    };
  }

  const statusOf = (run: CaseRun, pkg: string): string => {
    const v = run.verdicts.get(pkg);
    return v === undefined ? "missing" : VexStatus[v.status].toLowerCase();
  };
  const describeVerdict = (v: Verdict | undefined): string =>
    v === undefined ? "no verdict" : `${VexStatus[v.status]} (${v.reason}) evidence: ${v.evidence.map((e) => `${e.kind}:${e.path}`).join(", ")}`;

  CASES.forEach((c, i) => {
    it(`(${i + 1}) ${c.channel}: the used package is never not_affected, the ground truth's packages neither, the controls are not_affected only in a complete trace`, async () => {
      const run = await runCase(c);
      const controlStatuses = CONTROLS.map((p) => run.verdicts.get(p)?.status);
      summary.push({
        channel: `(${i + 1}) ${c.channel}`,
        used: Object.keys(c.used)
          .map((p) => `${p}=${statusOf(run, p)}`)
          .join(" "),
        control: CONTROLS.map((p) => statusOf(run, p)).join("/"),
        complete: run.complete ? "yes" : `no`,
        suppressed: `${controlStatuses.filter((s) => s === VexStatus.NOT_AFFECTED).length}/${CONTROLS.length}`,
        seconds: run.seconds,
      });
      const { waited } = run;
      assert.ok(
        (waited.stdoutBytes ?? 0) <= 4096,
        `stdout (${waited.stdoutBytes} bytes) beyond the 4 KiB tail the driver keeps: the ground truth would be cut`,
      );
      assert.equal(waited.outcome, WorkloadOutcome.EXITED_OK, `workload exit ${waited.exitCode}\nstdout: ${waited.stdoutTail}\nstderr: ${waited.stderrTail}`);
      if (!run.complete) console.log(`      (${i + 1}) loss reasons: ${run.trace.lossReasons.join(", ")}`);
      const notes = run.self.notes.filter((n) => !n.startsWith("RT-CGROUP"));
      if (notes.length > 0) console.log(`      (${i + 1}) workload said: ${notes.join(" | ")}`);

      // 1. The used packages.
      for (const [pkg, kinds] of Object.entries(c.used)) {
        const v = run.verdicts.get(pkg);
        assert.ok(v !== undefined, `no verdict for ${pkg}`);
        assert.notEqual(v.status, VexStatus.NOT_AFFECTED, `FALSE not_affected for the used package ${pkg}: ${describeVerdict(v)}`);
        if (run.complete) {
          assert.equal(v.status, VexStatus.AFFECTED, `${pkg}: ${describeVerdict(v)}`);
          assert.ok(
            v.evidence.some((e) => kinds.includes(e.kind as EvidenceKind)),
            `${pkg} lacks evidence of kind ${kinds.join(" or ")}: ${describeVerdict(v)}`,
          );
        }
      }

      // 2. Ground truth from outside the tracer, mapped through dpkg's lists.
      const identities = new Set<IdentityKey>([...run.self.exes, ...run.self.maps.keys(), ...run.self.reads]);
      assert.ok(run.self.exes.size + run.self.reads.size > 0, `the workload reported nothing about itself: ${run.stdout.slice(0, 500)}`);
      const truthPackages = new Set<string>();
      for (const id of identities) for (const pkg of owners.get(id) ?? []) truthPackages.add(pkg);
      for (const pkg of Object.keys(c.used)) {
        if (c.notInTruth?.includes(pkg) === true) continue;
        assert.ok(truthPackages.has(pkg), `ground truth does not show ${pkg}: ${[...truthPackages].join(",")}`);
      }
      // Every process that reported itself was an exec the tracer must have counted, by the same identity.
      // (Only on a complete trace: an incomplete one may miss anything, and the verdicts above already allow for it.)
      for (const [id, reports] of run.complete ? run.self.exeReports : new Map<IdentityKey, number>()) {
        const traced = run.trace.uses
          .filter((u) => u.access === "exec" && `${u.dev >>> 20}:${u.dev & 0xfffff}:${u.inode}` === id)
          .reduce((n, u) => n + u.count, 0);
        assert.ok(traced >= reports, `the workload reported ${reports} process(es) running ${id}, the trace counted ${traced} exec(s) of it`);
      }
      // Every file a reporting process had mapped was exec'd, opened (the loader, dlopen) or mapped executable in the trace,
      // except the ELF interpreter of an exec'd binary: the kernel maps it with no syscall (the catalogue's PT_INTERP covers it).
      const tracedIds = new Set(run.trace.uses.map((u) => `${u.dev >>> 20}:${u.dev & 0xfffff}:${u.inode}`));
      for (const [id, name] of run.complete ? run.self.maps : new Map<IdentityKey, string>()) {
        if (/^ld-linux/.test(name) && !run.self.exes.has(id)) continue;
        assert.ok(tracedIds.has(id), `${name} (${id}) was mapped by the workload and is absent from the trace`);
      }
      for (const control of CONTROLS) assert.ok(!truthPackages.has(control), `control ${control} was used according to the ground truth: the control is wrong`);
      for (const pkg of truthPackages) {
        const v = run.verdicts.get(pkg);
        assert.ok(v !== undefined, `ground-truth package ${pkg} has no verdict (finding ${findingIdOf(pkg)})`);
        assert.notEqual(
          v.status,
          VexStatus.NOT_AFFECTED,
          `FALSE not_affected for ${pkg}, which the workload's own /proc/self view shows in use: ${describeVerdict(v)}`,
        );
      }

      // 3. Controls: claimed untouched only on a complete trace.
      assert.equal(run.complete, c.expectComplete, `trace complete=${run.complete}, loss: ${run.trace.lossReasons.join(",")}`);
      for (const control of CONTROLS) {
        const v = run.verdicts.get(control);
        if (run.complete && c.controlsFailClosed !== undefined) {
          assert.equal(v?.status, VexStatus.UNDER_INVESTIGATION, `control ${control}: ${describeVerdict(v)}`);
          assert.match(v?.reason ?? "", c.controlsFailClosed);
        } else if (run.complete) {
          assert.equal(v?.status, VexStatus.NOT_AFFECTED, `control ${control}: ${describeVerdict(v)}`);
          assert.equal(v?.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
        } else {
          assert.equal(v?.status, VexStatus.UNDER_INVESTIGATION, `control ${control} on an incomplete trace: ${describeVerdict(v)}`);
        }
      }
      c.check?.(run);
    });
  });

  it("leaves no container, cgroup or bundle of any case behind", () => {
    const listed = execFileSync("runc", ["list", "-q"], { encoding: "utf8" }).split("\n");
    for (const id of everyId) {
      assert.ok(!listed.includes(id), `runc still lists ${id}`);
      for (const driver of [withProfile, withoutProfile]) {
        for (const cg of allCgroupDirsFor(driver.layout, driver.cgroupsPathOf(id))) assert.ok(!existsSync(cg), `cgroup ${cg} left`);
        assert.ok(!existsSync(driver.bundleDirOf(id)), `bundle of ${id} left`);
      }
    }
  });
});
