import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  CataloguedPackageSchema,
  ExerciseStepSchema,
  VexJustification,
  VexStatus,
  WorkloadOutcome,
  type ExecutionProfile,
  type ExerciseStep,
  type ImageCatalogue,
  type Verdict,
} from "@vexxy/proto";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { FACTOR_NAMES, SCORE_CAP, assessConfidence, evidenceFactor, exitFactor, scoreOf, type RunMeasure } from "../src/verdict/confidence.js";
import { scoreReachability } from "../src/verdict/decide-verdicts.js";
import { access, catalogue, grypeMatch, profile, type ProfileOverrides } from "./helpers.js";

const LIBC = { name: "libc6", version: "2.36-9", files: ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"] };
const TAR = { name: "tar", version: "1.34+dfsg-1.2", files: ["/bin/tar"] };
const APT = { name: "apt", version: "2.6.1", files: ["/usr/bin/apt", "/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0.0"] };
const LOGIN = { name: "login", version: "1:4.13+dfsg1-1+b1", files: ["/bin/login", "/etc/login.defs"] };
const NOLIST = { name: "base-files", version: "12.4", files: [] };
const INTERP = { "/usr/bin/tar": "/lib64/ld-linux-x86-64.so.2" };

// Twenty packages the runs never use, so that package coverage stays below its 25% ceiling.
const FILLER = Array.from({ length: 20 }, (_, i) => ({ name: `filler${i}`, version: "1", files: [`/usr/share/filler${i}/data`] }));

function image(extra: { partial?: string; filler?: boolean } = {}): ImageCatalogue {
  const cat = catalogue([LIBC, TAR, APT, LOGIN, NOLIST, ...(extra.filler === true ? FILLER : [])], {
    symlinks: { "/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    interpreters: INTERP,
  });
  if (extra.partial !== undefined) {
    cat.packages.push(
      create(CataloguedPackageSchema, { name: extra.partial, version: "1", type: "deb", files: [`/usr/bin/${extra.partial}`], installState: "partial" }),
    );
  }
  return cat;
}

const TAR_RUN = [access("/usr/bin/tar", "exec"), access("/etc/ld.so.cache"), access("/lib/x86_64-linux-gnu/libc.so.6")];

function step(name: string, ok: boolean, detail = ""): ExerciseStep {
  return create(ExerciseStepSchema, { name, ok, detail });
}

const ENTRYPOINT_OK = step("entrypoint", true, "EXITED_OK, exit code 0");

function run(overrides: ProfileOverrides = {}, files = TAR_RUN): ExecutionProfile {
  return profile(files, { durationSeconds: 30, exercise: [ENTRYPOINT_OK], ...overrides });
}

function verdicts(matches: Record<string, unknown>[], p: ExecutionProfile = run(), cat: ImageCatalogue = image()): Verdict[] {
  return scoreReachability({ catalogue: cat, profile: p, report: parseVulnerabilityReport(JSON.stringify({ matches })) }).verdicts;
}

function one(matches: Record<string, unknown>[], p?: ExecutionProfile, cat?: ImageCatalogue): Verdict {
  const list = verdicts(matches, p, cat);
  const v = list[0];
  assert.ok(v !== undefined);
  return v;
}

function factorOf(v: Verdict, name: string) {
  const f = v.factors.find((x) => x.name === name);
  assert.ok(f !== undefined, `factor ${name} missing`);
  return f;
}

const APT_FINDING = grypeMatch("CVE-2011-3374", "apt", "2.6.1");

describe("confidence factors", () => {
  it("lists every named factor, in order, on every kind of verdict, and the score is the capped sum of their effects", () => {
    const list = verdicts([
      grypeMatch("CVE-2005-2541", "tar", "1.34+dfsg-1.2"),
      APT_FINDING,
      grypeMatch("CVE-2023-38545", "curl", "7.88.1-10"),
      grypeMatch("CVE-2099-1", "base-files", "12.4"),
      grypeMatch("CVE-2099-2", "apt", "9.9"),
      grypeMatch("GHSA-x", "lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20"),
    ]);
    assert.deepEqual(
      list.map((v) => [VexStatus[v.status], VexJustification[v.justification]]),
      [
        ["AFFECTED", "UNSPECIFIED"],
        ["NOT_AFFECTED", "VULNERABLE_CODE_NOT_IN_EXECUTE_PATH"],
        ["NOT_AFFECTED", "COMPONENT_NOT_PRESENT"],
        ["UNDER_INVESTIGATION", "UNSPECIFIED"],
        ["UNDER_INVESTIGATION", "UNSPECIFIED"],
        ["UNDER_INVESTIGATION", "UNSPECIFIED"],
      ],
    );
    const kinds = ["affected", "not_in_execute_path", "component_not_present", "under_investigation", "under_investigation", "under_investigation"] as const;
    list.forEach((v, i) => {
      assert.deepEqual(
        v.factors.map((f) => f.name),
        [...FACTOR_NAMES],
      );
      for (const f of v.factors) assert.ok(f.value !== "" && f.detail !== "", `${v.vulnerabilityId} ${f.name}`);
      const kind = kinds[i] ?? "affected";
      const sum = v.factors.reduce((t, f) => t + f.effect, 0);
      assert.equal(v.confidence, Math.round(Math.min(SCORE_CAP[kind], Math.max(0, sum)) * 1000) / 1000, v.vulnerabilityId);
    });
    assert.deepEqual(
      list.map((v) => v.confidence),
      // The npm finding is a catalogue gap for both not_affected verdicts (-0.05).
      [0.95, 0.85, 0.9, 0.2, 0.3, 0.1],
    );
  });

  it("says routes_hit is not measured, with no effect, on every verdict", () => {
    for (const v of verdicts([APT_FINDING, grypeMatch("CVE-2005-2541", "tar", "1.34+dfsg-1.2")])) {
      const routes = factorOf(v, "routes_hit");
      assert.equal(routes.value, "not measured");
      assert.equal(routes.effect, 0);
    }
  });

  it("lowers not_in_execute_path for a short run in proportion to its duration", () => {
    const long = one([APT_FINDING], run({ durationSeconds: 30 }));
    const short = one([APT_FINDING], run({ durationSeconds: 3 }));
    assert.equal(factorOf(long, "exercise_duration").effect, 0.15);
    assert.equal(factorOf(short, "exercise_duration").effect, 0.015);
    assert.equal(factorOf(short, "exercise_duration").value, "3.0 s");
    assert.ok(short.confidence < long.confidence, `${short.confidence} < ${long.confidence}`);
    assert.equal(short.status, VexStatus.NOT_AFFECTED);
  });

  it("gives exit 0 more than a service still running at the timeout, and a crash leaves the package under investigation at a lower score", () => {
    const exited = one([APT_FINDING], run({ outcome: WorkloadOutcome.EXITED_OK }));
    const serving = one([APT_FINDING], run({ outcome: WorkloadOutcome.TIMEOUT_RUNNING }));
    const crashed = one([APT_FINDING], run({ outcome: WorkloadOutcome.EXITED_ERROR, exercise: [step("entrypoint", false, "EXITED_ERROR, exit code 139")] }));
    assert.equal(factorOf(exited, "exit_status").value, "exit 0");
    assert.equal(factorOf(exited, "exit_status").effect, 0.1);
    assert.equal(factorOf(serving, "exit_status").effect, 0.05);
    assert.ok(serving.confidence < exited.confidence);
    assert.equal(crashed.status, VexStatus.UNDER_INVESTIGATION);
    assert.ok(crashed.confidence < serving.confidence);
    assert.match(factorOf(crashed, "exit_status").detail, /exit code 139/);
    const lone: RunMeasure = { complete: true, lossReasons: [], durationSeconds: 30, outcome: WorkloadOutcome.LIMIT_KILLED, exercise: [], coveragePercent: 10 };
    assert.equal(exitFactor("not_in_execute_path", lone).effect, 0);
  });

  it("raises not_in_execute_path when the test script passed, lowers it when it failed, and leaves it unchanged without one", () => {
    const none = one([APT_FINDING], run({ durationSeconds: 10 }));
    const passed = one([APT_FINDING], run({ durationSeconds: 10, exercise: [ENTRYPOINT_OK, step("test_script", true, "exit code 0")] }));
    const failed = one([APT_FINDING], run({ durationSeconds: 10, exercise: [ENTRYPOINT_OK, step("test_script", false, "exit code 1: curl: (7) refused")] }));
    const unrecorded = one([APT_FINDING], run({ durationSeconds: 10, exercise: [] }));
    assert.equal(factorOf(none, "test_script").value, "none");
    assert.equal(factorOf(passed, "test_script").value, "passed");
    assert.equal(factorOf(failed, "test_script").value, "failed");
    assert.match(factorOf(failed, "test_script").detail, /exit code 1/);
    assert.equal(factorOf(unrecorded, "test_script").value, "not recorded");
    assert.ok(passed.confidence > none.confidence && none.confidence > failed.confidence, `${passed.confidence} ${none.confidence} ${failed.confidence}`);
    assert.equal(unrecorded.confidence, none.confidence);
    // A failed script lowers the score but never changes the verdict.
    assert.equal(failed.status, VexStatus.NOT_AFFECTED);
  });

  it("grows not_in_execute_path with the share of packages the run used", () => {
    const narrow = one([APT_FINDING], run({}, [access("/usr/bin/tar", "exec")]), image({ filler: true }));
    const wide = one([APT_FINDING], run({}, [...TAR_RUN, access("/etc/login.defs")]), image({ filler: true }));
    assert.ok(factorOf(wide, "package_coverage").effect > factorOf(narrow, "package_coverage").effect);
    assert.ok(wide.confidence > narrow.confidence);
  });

  it("lowers not_affected when the catalogue has gaps: an ecosystem of the scan not read, or a package partially installed", () => {
    const clean = one([APT_FINDING]);
    const npmToo = verdicts([APT_FINDING, grypeMatch("GHSA-x", "lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20")]);
    const gap = npmToo[0];
    assert.ok(gap !== undefined);
    assert.equal(factorOf(clean, "catalogue_completeness").value, "complete");
    assert.equal(factorOf(gap, "catalogue_completeness").value, "gaps: ecosystems not catalogued: npm");
    assert.equal(factorOf(gap, "catalogue_completeness").effect, -0.05);
    assert.equal(gap.confidence, Math.round((clean.confidence - 0.05) * 1000) / 1000);
    const partial = one([APT_FINDING], run(), image({ partial: "dpkg-half" }));
    assert.match(factorOf(partial, "catalogue_completeness").value, /1 packages partially installed/);
    assert.ok(partial.confidence < clean.confidence);
    const absent = verdicts([grypeMatch("CVE-2023-38545", "curl", "7.88.1-10"), grypeMatch("GHSA-x", "lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20")])[0];
    assert.equal(absent?.justification, VexJustification.COMPONENT_NOT_PRESENT);
    assert.equal(absent?.confidence, 0.9);
  });

  it("names the package's own catalogue gap on the verdict it keeps under investigation", () => {
    const noList = one([grypeMatch("CVE-2099-1", "base-files", "12.4")]);
    assert.equal(factorOf(noList, "catalogue_completeness").value, "incomplete for this package: no file list");
    const partial = one([grypeMatch("CVE-2099-3", "dpkg-half", "1")], run(), image({ partial: "dpkg-half" }));
    assert.equal(partial.status, VexStatus.UNDER_INVESTIGATION);
    assert.match(factorOf(partial, "catalogue_completeness").value, /install_state "partial"/);
  });

  it("scores affected from the evidence kind alone: code executed above a code file opened above a file only read", () => {
    const executed = one([grypeMatch("CVE-2005-2541", "tar", "1.34+dfsg-1.2")]);
    const opened = one([grypeMatch("CVE-1", "apt", "2.6.1")], run({}, [...TAR_RUN, access("/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0.0")]));
    const read = one([grypeMatch("CVE-2007-5686", "login", "1:4.13+dfsg1-1+b1")], run({}, [...TAR_RUN, access("/etc/login.defs")]));
    assert.deepEqual(
      [executed, opened, read].map((v) => [factorOf(v, "evidence_kind").value, v.confidence]),
      [
        ["code executed", 0.95],
        ["code file opened", 0.9],
        ["file read", 0.85],
      ],
    );
    assert.equal(evidenceFactor({ kind: "code_mapped", files: 1 }).effect, 0.95);
    // Nothing about the run weighs on observed use: a crash and an incomplete trace leave it.
    const crashed = one(
      [grypeMatch("CVE-2007-5686", "login", "1:4.13+dfsg1-1+b1")],
      run({ outcome: WorkloadOutcome.EXITED_ERROR, complete: false }, [...TAR_RUN, access("/etc/login.defs")]),
    );
    assert.equal(crashed.status, VexStatus.AFFECTED);
    assert.equal(crashed.confidence, 0.85);
    assert.match(factorOf(crashed, "trace_completeness").value, /^incomplete/);
  });

  it("turns an incomplete trace into under_investigation at a score below any not_affected, naming the loss", () => {
    const v = one([APT_FINDING], run({ complete: false, lossReasons: ["map_full:files"] }));
    assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
    assert.equal(factorOf(v, "trace_completeness").value, "incomplete: map_full:files");
    assert.ok(v.confidence <= 0.3);
  });

  it("keeps a not_affected verdict not_affected however low its score, and caps it at 0.9", () => {
    const worst = one(
      [APT_FINDING, grypeMatch("GHSA-x", "lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20")],
      run({ durationSeconds: 0.5, outcome: WorkloadOutcome.TIMEOUT_RUNNING, exercise: [ENTRYPOINT_OK, step("test_script", false, "timed out")] }, [
        access("/usr/bin/tar", "exec"),
      ]),
      image({ filler: true }),
    );
    assert.equal(worst.status, VexStatus.NOT_AFFECTED);
    assert.ok(worst.confidence < 0.5, String(worst.confidence));
    const best = assessConfidence({
      kind: "not_in_execute_path",
      evidence: { kind: "no_file_used", files: 3 },
      run: {
        complete: true,
        lossReasons: [],
        durationSeconds: 600,
        outcome: WorkloadOutcome.EXITED_OK,
        exercise: [step("test_script", true)],
        coveragePercent: 80,
      },
      catalogue: { ecosystemsNotRead: [], partialPackages: 0 },
    });
    assert.equal(best.score, 0.9);
    assert.ok(best.factors.reduce((t, f) => t + f.effect, 0) > 0.9);
    assert.equal(scoreOf("under_investigation", best.factors), 0.3);
  });
});
