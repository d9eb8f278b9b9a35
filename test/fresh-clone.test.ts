/**
 * `.ci/run`'s path on an ordinary fresh machine (issue 11): the repository put under a `mktemp -d`
 * folder (mode 0700, as /root is) whose path holds a space, its dependencies installed from the
 * local pnpm store (`pnpm install --offline --frozen-lockfile`), and a Postgres-backed test file
 * run inside it through `scripts/run-tests.mjs`. As root, initdb and postgres run as the
 * `postgres` user, who cannot traverse the 0700 folder: the run only passes if the binaries are
 * copied to the cache (here a fresh VEXXY_PG_CACHE dir) and run from there.
 */
import { strict as assert } from "node:assert";
import { execFile, spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");
const execFileP = promisify(execFile);
const PG_TEST = "libs/ledger/test/stage-ledger.test.ts";

interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly seconds: number;
}

/** Runs a command to its end, output captured; killed (by its own pid) after timeoutMs. */
function runChild(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildRun> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-20_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** A git clone of HEAD when ROOT is a work tree, else a copy of the tree without what a clone lacks. */
async function placeRepository(dest: string): Promise<string> {
  const isRepo = await execFileP("git", ["-C", ROOT, "rev-parse", "--is-inside-work-tree"]).then(
    ({ stdout }) => stdout.trim() === "true",
    () => false,
  );
  if (isRepo) {
    await execFileP("git", ["clone", "--quiet", "--no-hardlinks", ROOT, dest]);
    return "git clone of HEAD";
  }
  const skipped = new Set(["node_modules", ".cache", ".git"]);
  await cp(ROOT, dest, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) =>
      !relative(ROOT, src)
        .split(sep)
        .some((part) => skipped.has(part)),
  });
  return "copy of the tree";
}

describe("a fresh clone under a 0700 folder whose path holds a space", function () {
  this.timeout(300_000);
  let parent: string;
  let cache: string;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), "vexxy-fresh-clone-"));
    // The postgres user must reach the cache, and only the cache.
    cache = await mkdtemp(join(tmpdir(), "vexxy-pg-cache-"));
    await chmod(cache, 0o755);
  });
  after(async () => {
    await rm(parent, { recursive: true, force: true });
    await rm(cache, { recursive: true, force: true });
  });

  it("installs offline from the pnpm store and passes a Postgres-backed test file, with the binaries run from a fresh cache", async () => {
    assert.equal((await stat(parent)).mode & 0o777, 0o700, "mkdtemp makes a 0700 folder");
    const repo = join(parent, "fresh clone", "vexxy");
    await mkdir(join(parent, "fresh clone"));
    const how = await placeRepository(repo);

    const env: NodeJS.ProcessEnv = { ...process.env, VEXXY_PG_CACHE: join(cache, "postgres"), CI: "true" };
    const install = await runChild("pnpm", ["install", "--offline", "--frozen-lockfile", "--reporter=append-only"], repo, env, 120_000);
    assert.equal(install.code, 0, `pnpm install --offline in the ${how} (${install.seconds} s): ${install.output}`);

    const run = await runChild(process.execPath, ["scripts/run-tests.mjs", PG_TEST], repo, env, 150_000);
    assert.equal(run.code, 0, `${PG_TEST} in the ${how} exited ${run.code ?? run.signal} after ${run.seconds} s: ${run.output}`);
    const summary = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(run.output);
    assert.ok(summary !== null, `the summary line: ${run.output}`);
    assert.ok(Number(summary[1]) > 0, summary[0]);
    assert.equal(Number(summary[2]), 0, summary[0]);
    if (userInfo().uid === 0) {
      // As root the server cannot run from the clone; it ran from a copy in the fresh cache.
      const copied = await execFileP("find", [cache, "-path", "*/bin/postgres", "-type", "f"]);
      assert.notEqual(copied.stdout.trim(), "", `postgres copied into ${cache}`);
    }
  });
});
