/**
 * Tracing overhead of the identity tracer, on an open-, exec- and mmap-heavy workload under runc,
 * beside two baselines measured in the same process, alternating run by run:
 *   untraced    the same workload in the same sandbox, no tracer;
 *   path-only   the tracer this product shipped until 2026-12 (names read at the syscall's exit
 *               from the pointer saved at entry, aggregated by path; no identities, exact cgroup
 *               id only), rebuilt below verbatim as the comparison point.
 *   identity    the tracer of today (services/profiler): (device, inode) read from the file
 *               object in the kernel for every open, exec and executable mapping, the cgroup
 *               subtree walk, the untraced-channel probes.
 * Usage: node --import tsx bench/tracer-identity.bench.ts [--runs N] [--rounds R]
 * Prints a markdown table; copy it into bench/RESULTS.md.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { tempDir } from "@vexxy/testkit";
import { buildDemoImage, resolveImageInput } from "@vexxy/deploy-local";
import { RuncRuntime, prepareImage, containerIdFor } from "@vexxy/sandbox";
import { BpftraceTracer, ensureTracefs } from "@vexxy/profiler";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const runs = arg("--runs", 5);
const rounds = arg("--rounds", 10);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** The path-only script as shipped before file identities (the comparison point). */
function pathOnlyScript(cgroupPath: string): string {
  const cg = `cgroup == cgroupid("${cgroupPath}")`;
  const openEnter = (sc: string, a: string): string => `tracepoint:syscalls:sys_enter_${sc} /${cg} && @live == 1/ { @fn[tid] = args->${a}; }`;
  const openExit = (sc: string): string =>
    `tracepoint:syscalls:sys_exit_${sc} /${cg} && @fn[tid] != 0/ { @open[str(@fn[tid]), args->ret >= 0 ? 1 : 0] = count(); delete(@fn[tid]); }`;
  return [
    `BEGIN { printf("ATTACHED\\n"); }`,
    `tracepoint:sched:sched_process_exec /${cg}/ { @live = 1; @exec[str(args->filename), 1] = count(); }`,
    ...(
      [
        ["open", "filename"],
        ["creat", "pathname"],
        ["openat", "filename"],
        ["openat2", "filename"],
      ] as const
    ).flatMap(([sc, a]) => [openEnter(sc, a), openExit(sc)]),
    `tracepoint:syscalls:sys_enter_execve /${cg}/ { @efn[tid] = args->filename; }`,
    `tracepoint:syscalls:sys_exit_execve /${cg} && @efn[tid] != 0/ { @execve[str(@efn[tid]), args->ret >= 0 ? 1 : 0] = count(); delete(@efn[tid]); }`,
    `END { clear(@fn); clear(@efn); clear(@live); }`,
    "",
  ].join("\n");
}

/** Starts bpftrace on a script and resolves once it printed its BEGIN marker; stop() ends it and returns stdout. */
async function startPathOnly(script: string, dir: string): Promise<{ stop(): Promise<string> }> {
  const file = join(dir, `path-only-${Date.now()}.bt`);
  writeFileSync(file, script);
  const child = spawn("bpftrace", ["-f", "json", file], {
    env: { ...process.env, BPFTRACE_STRLEN: "200", BPFTRACE_MAP_KEYS_MAX: "65536" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const closed = once(child, "close");
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("path-only bpftrace did not attach within 15 s")), 15000);
    child.stdout.on("data", () => {
      if (out.includes("ATTACHED")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    async stop() {
      child.kill("SIGINT");
      await closed;
      return out;
    },
  };
}

ensureTracefs();
const demo = await buildDemoImage(log);
const image = await resolveImageInput(demo.ociLayoutDir);
const work = await tempDir("bench-tracer");
try {
  const prepared = await prepareImage({ imageRef: image.imageRef, expectedDigest: image.imageDigest, workDir: join(work.path, "image") });
  const driver = new RuncRuntime({ workDir: join(work.path, "bundles") });
  const tracer = new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 65536, stopTimeoutMs: 30000 });
  const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // Opens (every file under /usr/share and /usr/lib read), execs (one cat per batch, one perl per
  // round) and executable mappings (perl dlopen()s its XS modules; every exec maps libc).
  const workload = [
    "/bin/sh",
    "-c",
    `i=0; while [ $i -lt ${rounds} ]; do find /usr/share /usr/lib -type f -exec cat {} + >/dev/null 2>&1; perl -MPOSIX -MFcntl -MSocket -MList::Util -e 1; for j in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; i=$((i+1)); done`,
  ];
  const times: Record<"untraced" | "path-only" | "identity", number[]> = { untraced: [], "path-only": [], identity: [] };
  let identityUses = 0;
  let identityDistinct = 0;
  let identityLoss = "";
  for (let i = 0; i < runs; i++) {
    for (const mode of ["untraced", "path-only", "identity"] as const) {
      const id = containerIdFor(`benchtr${mode.replace(/[^a-z]/g, "")}${i}0000000000`, 1);
      const handle = await driver.create({
        containerId: id,
        rootfsDir: prepared.rootfsDir,
        process: { args: workload, env: [PATH], cwd: "/", uid: 0, gid: 0 },
      });
      const identitySession =
        mode === "identity"
          ? await tracer.start({ kind: "host_cgroup", jobId: "bench", attempt: 1, containerId: id, cgroupPath: handle.cgroupV2Path }, 15000)
          : undefined;
      const pathSession = mode === "path-only" ? await startPathOnly(pathOnlyScript(handle.cgroupV2Path), work.path) : undefined;
      const t = process.hrtime.bigint();
      await driver.start(id);
      const res = await driver.wait(id, 600000);
      times[mode].push(seconds(t));
      if (identitySession !== undefined) {
        const r = await identitySession.stop();
        identityUses = r.uses.reduce((n, u) => n + u.count, 0);
        identityDistinct = r.uses.length;
        identityLoss = r.lossReasons.join("; ") || "none";
      }
      if (pathSession !== undefined) await pathSession.stop();
      await driver.destroy(id);
      if (res.exitCode !== 0) throw new Error(`${mode} run exited ${res.exitCode}: ${res.stderrTail}`);
      log(`run ${i + 1}/${runs} ${mode}: ${times[mode].at(-1)!.toFixed(3)} s`);
    }
  }
  const base = median(times.untraced);
  console.log(
    `\nTracer overhead — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}, median of ${runs}, ${rounds} rounds per run\n`,
  );
  // The fastest run of each mode is the least disturbed by other load on a noisy machine.
  const fastest = (xs: number[]): number => Math.min(...xs);
  const baseMin = fastest(times.untraced);
  console.log("| run | median | ratio to untraced (medians) | fastest | ratio to untraced (fastest) |\n| --- | --- | --- | --- | --- |");
  for (const mode of ["untraced", "path-only", "identity"] as const) {
    console.log(
      `| ${mode} | ${median(times[mode]).toFixed(3)} s | ${(median(times[mode]) / base).toFixed(2)}× | ${fastest(times[mode]).toFixed(3)} s | ${(fastest(times[mode]) / baseMin).toFixed(2)}× |`,
    );
  }
  console.log(`\nidentity tracer, last run: ${identityUses} uses on ${identityDistinct} distinct (access, file) pairs; loss: ${identityLoss}`);
} finally {
  await work.remove();
}
