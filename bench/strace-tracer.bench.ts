/**
 * Tracing overhead of the strace tracer (the ptrace fallback) on the open-, exec- and
 * mmap-heavy workload of bench/tracer-identity.bench.ts under runc, beside the untraced run and
 * the bpftrace identity tracer, measured in the same process and alternating run by run.
 * Usage: node --import tsx bench/strace-tracer.bench.ts [--runs N] [--rounds R]
 * Prints a markdown table; copy it into bench/RESULTS.md.
 */
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { tempDir } from "@vexxy/testkit";
import { buildDemoImage, resolveImageInput } from "@vexxy/deploy-local";
import { RuncRuntime, prepareImage, containerIdFor } from "@vexxy/sandbox";
import { BpftraceTracer, StraceTracer, ensureTracefs, type Tracer } from "@vexxy/profiler";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const runs = arg("--runs", 5);
const rounds = arg("--rounds", 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
const log = (s: string): void => void process.stderr.write(`${s}\n`);

ensureTracefs();
const demo = await buildDemoImage(log);
const image = await resolveImageInput(demo.ociLayoutDir);
const work = await tempDir("bench-strace");
try {
  const prepared = await prepareImage({ imageRef: image.imageRef, expectedDigest: image.imageDigest, workDir: join(work.path, "image") });
  const driver = new RuncRuntime({ workDir: join(work.path, "bundles") });
  const tracers: Record<"bpftrace" | "strace", Tracer> = {
    bpftrace: new BpftraceTracer({ bpftracePath: "bpftrace", mapKeysMax: 65536, stopTimeoutMs: 30000 }),
    strace: new StraceTracer({ stracePath: "strace", stopTimeoutMs: 30000 }),
  };
  const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const workload = [
    "/bin/sh",
    "-c",
    `i=0; while [ $i -lt ${rounds} ]; do find /usr/share /usr/lib -type f -exec cat {} + >/dev/null 2>&1; perl -MPOSIX -MFcntl -MSocket -MList::Util -e 1; for j in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; i=$((i+1)); done`,
  ];
  const modes = ["untraced", "bpftrace", "strace"] as const;
  const times: Record<(typeof modes)[number], number[]> = { untraced: [], bpftrace: [], strace: [] };
  const attach: Record<"bpftrace" | "strace", number[]> = { bpftrace: [], strace: [] };
  const stop: Record<"bpftrace" | "strace", number[]> = { bpftrace: [], strace: [] };
  const last: Record<string, string> = {};
  const loads: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const mode of modes) {
      const id = containerIdFor(`benchst${mode}${i}0000000000`, 1);
      const handle = await driver.create({
        containerId: id,
        rootfsDir: prepared.rootfsDir,
        process: { args: workload, env: [PATH], cwd: "/", uid: 0, gid: 0 },
      });
      const session =
        mode === "untraced"
          ? undefined
          : await tracers[mode].start({ kind: "host_cgroup", jobId: "bench", attempt: 1, containerId: id, cgroupPath: handle.cgroupV2Path }, 30000);
      loads.push(loadavg()[0] ?? 0);
      const t = process.hrtime.bigint();
      await driver.start(id);
      const res = await driver.wait(id, 900000);
      times[mode].push(seconds(t));
      if (session !== undefined && mode !== "untraced") {
        const r = await session.stop();
        attach[mode].push(r.diagnostics.attachSeconds);
        stop[mode].push(r.diagnostics.stopSeconds);
        last[mode] =
          `${r.uses.reduce((n, u) => n + u.count, 0)} uses on ${r.uses.length} distinct (access, file) pairs; loss: ${r.lossReasons.join("; ") || "none"}`;
      }
      await driver.destroy(id);
      if (res.exitCode !== 0) throw new Error(`${mode} run exited ${res.exitCode}: ${res.stderrTail}`);
      log(`run ${i + 1}/${runs} ${mode}: ${times[mode].at(-1)?.toFixed(3)} s`);
    }
  }
  const base = median(times.untraced);
  const fastest = (xs: number[]): number => Math.min(...xs);
  console.log(
    `\nstrace vs bpftrace vs untraced — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${release()}, median of ${runs}, ${rounds} rounds per run, load average during runs ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}\n`,
  );
  console.log(
    "| run | median | ratio to untraced (medians) | fastest | ratio to untraced (fastest) | attach (median) | stop (median) |\n| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const mode of modes) {
    const a = mode === "untraced" ? "" : `${median(attach[mode]).toFixed(2)} s`;
    const s = mode === "untraced" ? "" : `${median(stop[mode]).toFixed(2)} s`;
    console.log(
      `| ${mode} | ${median(times[mode]).toFixed(3)} s | ${(median(times[mode]) / base).toFixed(2)}× | ${fastest(times[mode]).toFixed(3)} s | ${(fastest(times[mode]) / fastest(times.untraced)).toFixed(2)}× | ${a} | ${s} |`,
    );
  }
  for (const [mode, text] of Object.entries(last)) console.log(`\n${mode}, last run: ${text}`);
} finally {
  await work.remove();
}
