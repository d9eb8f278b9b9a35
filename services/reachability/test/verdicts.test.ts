import assert from "node:assert/strict";
import { VexJustification, VexStatus, WorkloadOutcome, type ExecutionProfile, type ImageCatalogue, type Verdict } from "@vexxy/proto";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { notInExecutePathConfidence } from "../src/verdict/confidence.js";
import { scoreReachability } from "../src/verdict/decide-verdicts.js";
import { access, catalogue, grypeMatch, profile, type ProfileOverrides } from "./helpers.js";

const LIBC = {
  name: "libc6",
  version: "2.36-9+deb12u4",
  files: [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/lib64/ld-linux-x86-64.so.2",
    "/etc/ld.so.conf.d/x86_64-linux-gnu.conf",
  ],
};
const TAR = { name: "tar", version: "1.34+dfsg-1.2", files: ["/bin/tar", "/usr/sbin/rmt-tar"] };
const APT = {
  name: "apt",
  version: "2.6.1",
  files: ["/usr/bin/apt", "/usr/bin/apt-get", "/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0.0", "/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0"],
};
const DASH = { name: "dash", version: "0.5.12-2", files: ["/bin/dash", "/bin/sh"] };
const LOGIN = { name: "login", version: "1:4.13+dfsg1-1+b1", files: ["/bin/login", "/etc/login.defs"] };
const FOO = { name: "libfoo1", version: "1.2.3-1", files: ["/lib/x86_64-linux-gnu/libfoo.so.1", "/lib/x86_64-linux-gnu/libfoo.so.1.2.3"] };
const INTERP = { "/usr/bin/tar": "/lib64/ld-linux-x86-64.so.2", "/usr/bin/apt": "/lib64/ld-linux-x86-64.so.2", "/usr/bin/dash": "/lib64/ld-linux-x86-64.so.2" };

const IMAGE = catalogue([LIBC, TAR, APT, DASH, LOGIN, FOO], {
  symlinks: {
    "/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    "/usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.2.3",
    "/usr/bin/sh": "dash",
    "/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0": "libapt-private.so.0.0.0",
  },
  interpreters: INTERP,
});

/** The run of a dynamically linked tar: exec, then the loader's opens (as the loader spells them). */
const TAR_RUN = [access("/usr/bin/tar", "exec"), access("/etc/ld.so.cache"), access("/lib/x86_64-linux-gnu/libc.so.6")];

function score(matches: Record<string, unknown>[], run: ExecutionProfile = profile(TAR_RUN), image: ImageCatalogue = IMAGE): Verdict[] {
  return scoreReachability({ catalogue: image, profile: run, report: parseVulnerabilityReport(JSON.stringify({ matches })) }).verdicts;
}

function only(verdicts: Verdict[]): Verdict {
  assert.equal(verdicts.length, 1);
  const [verdict] = verdicts;
  assert.ok(verdict !== undefined);
  return verdict;
}

describe("reachability verdicts", () => {
  describe("affected", () => {
    it("says affected when a package's executable ran, listing the executed path as evidence", () => {
      const v = only(score([grypeMatch("CVE-2005-2541", "tar", "1.34+dfsg-1.2")]));
      assert.equal(v.status, VexStatus.AFFECTED);
      assert.equal(v.confidence, 0.95);
      assert.ok(
        v.evidence.some((e) => e.kind === "executed" && e.path === "/usr/bin/tar"),
        JSON.stringify(v.evidence),
      );
      assert.match(v.reason, /\/usr\/bin\/tar executed/);
    });

    it("matches a loader open of /lib/... against a dpkg list of /lib/... and its merged-/usr resolution", () => {
      const v = only(
        score(
          [grypeMatch("CVE-2010-4756", "libc6", "2.36-9+deb12u4")],
          profile([access("/usr/bin/apt", "exec"), access("/usr/lib/x86_64-linux-gnu/libc.so.6")]),
        ),
      );
      assert.equal(v.status, VexStatus.AFFECTED);
      assert.ok(v.evidence.some((e) => e.kind === "file_opened" && e.path === "/usr/lib/x86_64-linux-gnu/libc.so.6"));
    });

    it("matches an open of the versioned file against a package that lists only the soname link", () => {
      const image = catalogue([{ name: "libfoo1", version: "1", files: ["/lib/x86_64-linux-gnu/libfoo.so.1"] }], {
        symlinks: { "/usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.2.3" },
      });
      const run = profile([access("/usr/bin/x", "exec"), access("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3")]);
      assert.equal(only(score([grypeMatch("CVE-1", "libfoo1", "1")], run, image)).status, VexStatus.AFFECTED);
    });

    it("does not credit a package whose only link points at another package's file (libc-bin's /usr/bin/ld.so)", () => {
      const image = catalogue([LIBC, { name: "libc-bin", version: "2.36-9+deb12u4", files: ["/usr/bin/ld.so", "/sbin/ldconfig"] }, TAR], {
        symlinks: {
          "/usr/bin/ld.so": "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
          "/usr/lib64/ld-linux-x86-64.so.2": "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        },
        interpreters: INTERP,
      });
      const [libc, libcBin] = score(
        [grypeMatch("CVE-A", "libc6", "2.36-9+deb12u4"), grypeMatch("CVE-B", "libc-bin", "2.36-9+deb12u4")],
        profile(TAR_RUN),
        image,
      );
      assert.equal(libc?.status, VexStatus.AFFECTED);
      assert.equal(libcBin?.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH, libcBin?.reason);
      const viaLink = score([grypeMatch("CVE-B", "libc-bin", "2.36-9+deb12u4")], profile([...TAR_RUN, access("/usr/bin/ld.so", "exec")]), image);
      assert.equal(viaLink[0]?.status, VexStatus.AFFECTED, "running the link itself uses libc-bin's file");
    });

    it("counts the ELF interpreter (PT_INTERP) of an executed binary even when the loader was never opened", () => {
      const v = only(score([grypeMatch("CVE-2010-4756", "libc6", "2.36-9+deb12u4")], profile([access("/bin/tar", "exec")])));
      assert.equal(v.status, VexStatus.AFFECTED);
      const interp = v.evidence.find((e) => e.kind === "elf_interpreter");
      assert.equal(interp?.path, "/lib64/ld-linux-x86-64.so.2");
      assert.match(interp?.detail ?? "", /executed \/bin\/tar/);
    });

    it("counts a script's interpreter when the catalogue records it for the executed script", () => {
      const image = catalogue([DASH, APT], { interpreters: { "/app/run.sh": "/bin/sh" }, symlinks: { "/usr/bin/sh": "dash" } });
      const v = only(score([grypeMatch("CVE-X", "dash", "0.5.12-2")], profile([access("/app/run.sh", "exec")]), image));
      assert.equal(v.status, VexStatus.AFFECTED);
      assert.ok(v.evidence.some((e) => e.kind === "elf_interpreter" && e.path === "/bin/sh"));
    });

    it("counts a successful open of a configuration file at a lower confidence than code", () => {
      const v = only(score([grypeMatch("CVE-2007-5686", "login", "1:4.13+dfsg1-1+b1")], profile([...TAR_RUN, access("/etc/login.defs")])));
      assert.equal(v.status, VexStatus.AFFECTED);
      assert.equal(v.confidence, 0.85);
    });

    it("treats an access whose counts were not recorded as a use (fail closed)", () => {
      const v = only(
        score([grypeMatch("CVE-1", "apt", "2.6.1")], profile([...TAR_RUN, access("/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0", "open", 0, 0)])),
      );
      assert.equal(v.status, VexStatus.AFFECTED);
    });
  });

  describe("not_affected", () => {
    it("says component_not_present for a package absent from a read ecosystem, at 0.95", () => {
      const v = only(score([grypeMatch("CVE-2023-38545", "curl", "7.88.1-10+deb12u3", "deb", "pkg:deb/debian/curl@7.88.1-10+deb12u3?arch=amd64")]));
      assert.equal(v.status, VexStatus.NOT_AFFECTED);
      assert.equal(v.justification, VexJustification.COMPONENT_NOT_PRESENT);
      assert.equal(v.confidence, 0.95);
      assert.equal(v.evidence[0]?.kind, "package_absent");
      assert.match(v.reason, /not installed/);
    });

    it("says vulnerable_code_not_in_execute_path for an installed, untouched package after a complete run", () => {
      const v = only(score([grypeMatch("CVE-2011-3374", "apt", "2.6.1")]));
      assert.equal(v.status, VexStatus.NOT_AFFECTED);
      assert.equal(v.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
      assert.ok(v.confidence > 0.5 && v.confidence < 0.95, String(v.confidence));
      assert.deepEqual(
        v.evidence.map((e) => e.kind),
        ["no_file_touched", "trace_complete"],
      );
    });

    it("also allows it for a service still running at the timeout", () => {
      const v = only(score([grypeMatch("CVE-2011-3374", "apt", "2.6.1")], profile(TAR_RUN, { outcome: WorkloadOutcome.TIMEOUT_RUNNING })));
      assert.equal(v.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    });

    it("ignores failed opens of a package's files (the loader probing paths)", () => {
      const v = only(
        score([grypeMatch("CVE-1", "apt", "2.6.1")], profile([...TAR_RUN, access("/usr/lib/x86_64-linux-gnu/libapt-private.so.0.0.0", "open", 0, 2)])),
      );
      assert.equal(v.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    });

    it("ignores relative opens that cannot be any of the package's files", () => {
      const run = profile(TAR_RUN, { unresolvedRelativeOpens: [access("demo-input-1.txt"), access(".")] });
      assert.equal(only(score([grypeMatch("CVE-1", "apt", "2.6.1")], run)).justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    });
  });

  describe("under_investigation (fail closed)", () => {
    it("never says component_not_present for an ecosystem the catalogue did not read", () => {
      for (const [name, type, purl] of [
        ["lodash", "npm", "pkg:npm/lodash@4.17.20"],
        ["requests", "python", ""],
        ["log4j-core", "java-archive", ""],
        ["golang.org/x/net", "go-module", ""],
        ["tar", "binary", ""],
      ] as const) {
        const v = only(score([grypeMatch("CVE-1", name, "1.0", type, purl)]));
        assert.equal(v.status, VexStatus.UNDER_INVESTIGATION, name);
        assert.equal(v.justification, VexJustification.UNSPECIFIED);
        assert.ok(v.confidence <= 0.2);
        assert.equal(v.evidence[0]?.kind, "ecosystem_not_catalogued");
      }
    });

    const untouchedApt = [grypeMatch("CVE-2011-3374", "apt", "2.6.1")];
    const cases: Array<[string, ProfileOverrides, RegExp]> = [
      ["the trace is marked incomplete", { complete: false }, /incomplete/],
      ["the trace reports a loss", { lossReasons: ["map @open reached BPFTRACE_MAP_KEYS_MAX"] }, /BPFTRACE_MAP_KEYS_MAX/],
      ["the workload exited with an error", { outcome: WorkloadOutcome.EXITED_ERROR }, /non-zero exit/],
      ["the workload was killed for a limit", { outcome: WorkloadOutcome.LIMIT_KILLED }, /resource limit/],
      ["the outcome was not recorded", { outcome: WorkloadOutcome.UNSPECIFIED }, /unrecorded/],
    ];
    for (const [what, overrides, pattern] of cases) {
      it(`keeps an untouched package under investigation when ${what}`, () => {
        const v = only(score(untouchedApt, profile(TAR_RUN, overrides)));
        assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
        assert.match(v.reason, pattern);
        assert.ok(v.evidence.some((e) => e.kind === "trace_incomplete"));
      });
    }

    it("still says affected for a touched package when the trace is incomplete (evidence of use stands)", () => {
      const v = only(score([grypeMatch("CVE-1", "tar", "1.34+dfsg-1.2")], profile(TAR_RUN, { complete: false })));
      assert.equal(v.status, VexStatus.AFFECTED);
    });

    it("keeps an untouched package under investigation when the trace saw no executed file at all", () => {
      const v = only(score(untouchedApt, profile([access("/etc/ld.so.cache")])));
      assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
      assert.match(v.reason, /no executed file/);
    });

    it("keeps a package under investigation when an unresolved relative open could be one of its files", () => {
      const run = profile(TAR_RUN, { unresolvedRelativeOpens: [access("x86_64-linux-gnu/libapt-private.so.0.0.0")] });
      const v = only(score(untouchedApt, run));
      assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
      const rel = v.evidence.find((e) => e.kind === "relative_open");
      assert.equal(rel?.path, "x86_64-linux-gnu/libapt-private.so.0.0.0");
      assert.match(rel?.detail ?? "", /\/usr\/lib\/x86_64-linux-gnu\/libapt-private\.so\.0\.0\.0/);
    });

    it("treats a relative path among the traced files (a relative execve) like an unresolved relative open", () => {
      const v = only(score(untouchedApt, profile([...TAR_RUN, access("bin/apt-get", "exec")])));
      assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
      assert.equal(v.evidence.find((e) => e.kind === "relative_open")?.path, "bin/apt-get");
    });

    it("matches a relative open with .. segments by its file name", () => {
      const run = profile(TAR_RUN, { unresolvedRelativeOpens: [access("../lib/../bin/apt-get")] });
      assert.equal(only(score(untouchedApt, run)).status, VexStatus.UNDER_INVESTIGATION);
    });

    it("ignores a relative open that failed", () => {
      const run = profile(TAR_RUN, { unresolvedRelativeOpens: [access("bin/apt-get", "open", 0, 1)] });
      assert.equal(only(score(untouchedApt, run)).status, VexStatus.NOT_AFFECTED);
    });

    it("keeps a package that ships a script interpreter under investigation when an executed file has no known interpreter", () => {
      const run = profile([access("/app/run.sh", "exec"), access("/usr/bin/tar", "exec"), access("/lib/x86_64-linux-gnu/libc.so.6")]);
      const [dash, apt] = score([grypeMatch("CVE-X", "dash", "0.5.12-2"), ...untouchedApt], run);
      assert.equal(dash?.status, VexStatus.UNDER_INVESTIGATION);
      const gap = dash?.evidence.find((e) => e.kind === "interpreter_unknown");
      assert.equal(gap?.path, "/app/run.sh");
      assert.match(gap?.detail ?? "", /\/bin\/sh|\/bin\/dash/);
      assert.equal(apt?.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH, "apt ships no interpreter");
    });

    it("keeps an installed package with no file list under investigation", () => {
      const image = catalogue([{ name: "meta", version: "1", files: [] }, TAR], { interpreters: INTERP });
      const v = only(score([grypeMatch("CVE-1", "meta", "1")], profile(TAR_RUN), image));
      assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
      assert.equal(v.evidence[0]?.kind, "no_file_list");
    });

    it("keeps a package installed in another version than the scan names under investigation", () => {
      const v = only(score([grypeMatch("CVE-1", "apt", "2.2.4")]));
      assert.equal(v.status, VexStatus.UNDER_INVESTIGATION);
      assert.match(v.reason, /2\.6\.1/);
      assert.equal(v.evidence[0]?.kind, "version_mismatch");
    });
  });

  describe("matching scan packages", () => {
    it("uses the purl's type when the artifact type is empty, and ignores a purl without namespace or qualifiers", () => {
      const v = only(
        score([{ vulnerability: { id: "CVE-1" }, artifact: { name: "tar", version: "1.34+dfsg-1.2", type: "", purl: "pkg:deb/tar@1.34%2Bdfsg-1.2" } }]),
      );
      assert.equal(v.status, VexStatus.AFFECTED);
      assert.equal(v.packagePurl, "pkg:deb/tar@1.34%2Bdfsg-1.2", "the verdict repeats the scan's purl exactly");
    });

    it("matches a version printed without its epoch", () => {
      assert.equal(only(score([grypeMatch("CVE-2007-5686", "login", "4.13+dfsg1-1+b1")])).justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    });

    it("matches npm scoped names from the purl when the catalogue read node_modules", () => {
      const image = catalogue([{ name: "@babel/core", version: "7.0.0", type: "npm", files: ["/app/node_modules/@babel/core/lib/index.js"] }, TAR], {
        ecosystems: ["deb", "npm"],
        interpreters: INTERP,
      });
      const run = profile([...TAR_RUN, access("/app/node_modules/@babel/core/lib/index.js")]);
      const v = only(score([grypeMatch("GHSA-1", "@babel/core", "7.0.0", "npm", "pkg:npm/%40babel/core@7.0.0")], run, image));
      assert.equal(v.status, VexStatus.AFFECTED);
    });

    it("gives one verdict per distinct (vulnerability, package), merging aliases of repeated rows", () => {
      const verdicts = score([
        grypeMatch("CVE-1", "tar", "1.34+dfsg-1.2", "deb", "", ["GHSA-a"]),
        grypeMatch("CVE-1", "tar", "1.34+dfsg-1.2", "deb", "", ["GHSA-b"]),
        grypeMatch("CVE-1", "apt", "2.6.1"),
        grypeMatch("CVE-2", "tar", "1.34+dfsg-1.2"),
      ]);
      assert.deepEqual(
        verdicts.map((v) => `${v.vulnerabilityId}/${v.packageName}`),
        ["CVE-1/tar", "CVE-1/apt", "CVE-2/tar"],
      );
      assert.deepEqual(verdicts[0]?.aliases, ["GHSA-a", "GHSA-b"]);
      assert.equal(verdicts[0]?.severity, "High");
    });
  });

  describe("confidence and summary", () => {
    it("grows not_in_execute_path confidence with duration, a clean exit and coverage, capped at 0.9", () => {
      const low = notInExecutePathConfidence({ durationSeconds: 1, outcome: WorkloadOutcome.TIMEOUT_RUNNING, coveragePercent: 1 });
      const mid = notInExecutePathConfidence({ durationSeconds: 30, outcome: WorkloadOutcome.EXITED_OK, coveragePercent: 5 });
      const high = notInExecutePathConfidence({ durationSeconds: 600, outcome: WorkloadOutcome.EXITED_OK, coveragePercent: 90 });
      assert.ok(low < mid && mid <= high, `${low} ${mid} ${high}`);
      assert.equal(high, 0.9);
      assert.ok(low >= 0.5);
    });

    it("summarises files, executables, shared libraries (once per resolved file) and package coverage", () => {
      const run = profile(
        [
          access("/usr/bin/tar", "exec"),
          access("/lib/x86_64-linux-gnu/libc.so.6"),
          access("/usr/lib/x86_64-linux-gnu/libc.so.6"),
          access("/etc/ld.so.cache"),
          access("/lib/x86_64-linux-gnu/libmissing.so.1", "open", 0, 1),
        ],
        { eventsTraced: 42n, durationSeconds: 3.5 },
      );
      const { summary } = scoreReachability({ catalogue: IMAGE, profile: run, report: parseVulnerabilityReport('{"matches":[]}') });
      assert.equal(summary.filesAccessed, 4);
      assert.equal(summary.executablesRun, 1);
      assert.equal(summary.sharedLibrariesLoaded, 1);
      assert.equal(summary.eventsTraced, 42n);
      assert.equal(summary.durationSeconds, 3.5);
      assert.equal(summary.complete, true);
      // tar and libc6 (exec, libc.so.6, its PT_INTERP) of 6 catalogued packages.
      assert.equal(summary.codeCoveragePercent, 33.333);
    });
  });
});
