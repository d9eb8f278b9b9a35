/**
 * Benchmark of the image catalogue (file identities, kinds, interpreters, dpkg ownership) beside
 * a baseline in the same process: a plain recursive readdir + bigint lstat walk of the same tree,
 * the least any identity catalogue must do. Two trees: the demo image unpacked by the project's
 * own prepareImage from the cached OCI layout (.cache/demo-image, built by `pnpm demo` or
 * deploy/local/demo-image/build.sh), and a synthetic Debian tree with 500 dpkg packages.
 * Reports the median time of N runs, the peak RSS sampled during each measured phase, and the
 * ratio. Prints a table; copy the figures into bench/RESULTS.md.
 * Usage: node --import tsx bench/catalogue-identity.bench.ts [--runs N]
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { tempDir } from "@vexxy/testkit";
import { buildCatalogue, prepareImage } from "@vexxy/sandbox";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] ?? "5") || 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function baselineWalk(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    await lstat(p, { bigint: true });
    n += 1;
    if (e.isDirectory()) n += await baselineWalk(p);
  }
  return n;
}

/** Runs fn while sampling RSS every 5 ms; returns its time in seconds and the peak RSS in MiB. */
async function measure(fn: () => Promise<unknown>): Promise<{ s: number; peakMiB: number }> {
  global.gc?.();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { s, peakMiB: peak / 1024 / 1024 };
}

function synthetic(root: string, packages: number): void {
  for (const d of ["usr/bin", "usr/lib", "etc", "var/lib/dpkg/info"]) mkdirSync(join(root, d), { recursive: true });
  symlinkSync("usr/bin", join(root, "bin"));
  symlinkSync("usr/lib", join(root, "lib"));
  copyFileSync("/bin/busybox", join(root, "usr/bin/busybox"));
  writeFileSync(join(root, "etc/os-release"), 'ID=debian\nVERSION_ID="12"\n');
  const status: string[] = [];
  for (let i = 0; i < packages; i++) {
    const name = `pkg${i}`;
    const lib = join(root, "usr/lib", name);
    mkdirSync(join(lib, "__pycache__"), { recursive: true });
    const list = ["/.", "/usr", "/usr/lib", `/usr/lib/${name}`];
    for (let f = 0; f < 12; f++) {
      writeFileSync(join(lib, `data${f}.txt`), `${name} ${f}\n`.repeat(20));
      list.push(`/lib/${name}/data${f}.txt`);
    }
    writeFileSync(join(lib, "mod.py"), "print(1)\n");
    writeFileSync(join(lib, "__pycache__/mod.cpython-311.pyc"), "\0\0\r\nbytecode");
    list.push(`/usr/lib/${name}/mod.py`);
    writeFileSync(join(root, "usr/bin", `${name}-run`), "#!/bin/sh\nexec true\n", { mode: 0o755 });
    list.push(`/bin/${name}-run`);
    linkSync(join(root, "usr/bin/busybox"), join(root, "usr/bin", `${name}-bb`));
    list.push(`/usr/bin/${name}-bb`);
    writeFileSync(join(root, "var/lib/dpkg/info", `${name}:amd64.list`), `${list.join("\n")}\n`);
    status.push(`Package: ${name}\nStatus: ${i % 50 === 0 ? "hold" : "install"} ok installed\nArchitecture: amd64\nVersion: 1.${i}-1\n`);
  }
  writeFileSync(join(root, "var/lib/dpkg/status"), status.join("\n"));
}

const work = await tempDir("catbench");
const trees: { label: string; root: string }[] = [];
const cache = join(process.cwd(), ".cache", "demo-image");
if (existsSync(join(cache, "oci", "index.json"))) {
  const digest = readFileSync(join(cache, "digest"), "utf8").trim();
  const img = await prepareImage({ imageRef: `oci:${join(cache, "oci")}:demo`, expectedDigest: digest, workDir: join(work.path, "demo") });
  trees.push({ label: "demo image (prepareImage of .cache/demo-image)", root: img.rootfsDir });
} else {
  log("no cached demo image at .cache/demo-image: run deploy/local/demo-image/build.sh first; measuring the synthetic tree only");
}
const synth = join(work.path, "synthetic");
synthetic(synth, 500);
trees.push({ label: "synthetic Debian tree, 500 dpkg packages", root: synth });

const rows: string[] = [];
for (const { label, root } of trees) {
  const cat = await buildCatalogue(root, "sha256:bench");
  const entries = await baselineWalk(root);
  const owned = cat.files.filter((f) => f.owners.length > 0).length;
  log(`${label}: ${cat.files.length} inodes (${cat.fileCount} names), ${entries} entries, ${cat.packages.length} packages, ${owned} owned inodes`);
  const ours: number[] = [];
  const base: number[] = [];
  let oursPeak = 0;
  let basePeak = 0;
  for (let i = 0; i < runs; i++) {
    const b = await measure(() => baselineWalk(root));
    base.push(b.s);
    basePeak = Math.max(basePeak, b.peakMiB);
    const o = await measure(() => buildCatalogue(root, "sha256:bench"));
    ours.push(o.s);
    oursPeak = Math.max(oursPeak, o.peakMiB);
  }
  const ratio = median(ours) / median(base);
  rows.push(
    `| ${label}: ${cat.fileCount.toLocaleString("en")} file names, ${cat.files.length.toLocaleString("en")} inodes, ${cat.packages.length} packages | ` +
      `${median(ours).toFixed(3)} s, peak RSS ${oursPeak.toFixed(0)} MiB | ${median(base).toFixed(3)} s, peak RSS ${basePeak.toFixed(0)} MiB | ${ratio.toFixed(2)}× |`,
  );
}
await work.remove();
console.log(`${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${runs} runs each (median)`);
console.log("| tree | buildCatalogue | baseline: readdir + bigint lstat walk | ratio |");
console.log("| --- | --- | --- | --- |");
for (const r of rows) console.log(r);
console.log(`process maxRSS (resourceUsage) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
