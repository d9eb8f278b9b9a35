import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VexJustification, VexStatus, WorkloadOutcome } from "@vexxy/proto";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { scoreReachability } from "../src/verdict/decide-verdicts.js";
import { access, demoCatalogue, profile } from "./helpers.js";

interface Expected {
  readonly vulnerability: string;
  readonly package: string;
  readonly status: string;
  readonly justification?: string;
}

const DEMO = new URL("../../../deploy/local/demo-image/", import.meta.url);
const expected = (JSON.parse(readFileSync(new URL("expected-verdicts.json", DEMO), "utf8")) as { verdicts: Expected[] }).verdicts;
const scan = parseVulnerabilityReport(readFileSync(new URL("scan.grype.json", DEMO)));

const STATUS: Readonly<Record<number, string>> = {
  [VexStatus.AFFECTED]: "affected",
  [VexStatus.NOT_AFFECTED]: "not_affected",
  [VexStatus.UNDER_INVESTIGATION]: "under_investigation",
};
const JUSTIFICATION: Readonly<Record<number, string>> = {
  [VexJustification.COMPONENT_NOT_PRESENT]: "component_not_present",
  [VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH]: "vulnerable_code_not_in_execute_path",
};

/**
 * What the tracer sees of /app/run.sh (recorded with strace in a chroot of the demo root, and the
 * same set with bpftrace on the cgroup of a runc container of the image):
 * the script's exec (dash itself is loaded by the kernel, unseen), the programs it runs, the
 * loader's opens spelled /lib/... (merged /usr), its data files, and tar's relative openat()s
 * of directory entries.
 */
const DEMO_RUN = profile(
  [
    access("/app/run.sh", "exec"),
    ...["tar", "gzip", "sha256sum", "wc", "grep", "cat", "head", "sleep"].map((name) => access(`/usr/bin/${name}`, "exec")),
    access("/app/run.sh"),
    access("/etc/ld.so.cache", "open", 13),
    access("/lib/x86_64-linux-gnu/libc.so.6", "open", 14),
    access("/lib/x86_64-linux-gnu/libacl.so.1", "open", 3),
    access("/lib/x86_64-linux-gnu/libselinux.so.1", "open", 3),
    access("/lib/x86_64-linux-gnu/libpcre2-8.so.0", "open", 4),
    access("/dev/null", "open", 2),
    access("/proc/mounts", "open", 0, 2),
    access("/proc/filesystems", "open", 3),
    access("/proc/self/maps"),
    access("/app/data", "open", 2),
    access("/app/data/demo-input-1.txt", "open", 2),
    access("/app/data/demo-input-2.txt"),
  ],
  {
    durationSeconds: 1.4,
    unresolvedRelativeOpens: [access("demo-input-1.txt", "open", 2), access("demo-input-2.txt", "open", 2)],
  },
);

describe("the demo image (debootstrap bookworm minbase catalogue, /app/run.sh trace, bundled Grype report)", () => {
  const catalogue = demoCatalogue();

  it("holds every deb package the bundled scan names in exactly the scanned version (fixture and scan from one build)", () => {
    for (const finding of scan.findings.filter((f) => f.pkg.type === "deb" && f.pkg.name !== "curl")) {
      const pkg = catalogue.packages.find((p) => p.name === finding.pkg.name);
      assert.equal(pkg?.version, finding.pkg.version, finding.pkg.name);
    }
    assert.ok(!catalogue.packages.some((p) => p.name === "curl"));
  });

  for (const outcome of [WorkloadOutcome.EXITED_OK, WorkloadOutcome.TIMEOUT_RUNNING]) {
    it(`gives every verdict expected-verdicts.json declares (${WorkloadOutcome[outcome]})`, () => {
      const { verdicts } = scoreReachability({ catalogue, profile: { ...DEMO_RUN, outcome }, report: scan });
      assert.equal(verdicts.length, scan.findings.length);
      for (const want of expected) {
        const got = verdicts.find((v) => v.vulnerabilityId === want.vulnerability && v.packageName === want.package);
        assert.ok(got !== undefined, `${want.vulnerability}/${want.package}`);
        assert.equal(STATUS[got.status], want.status, `${want.vulnerability}/${want.package}: ${got.reason}`);
        if (want.justification !== undefined) assert.equal(JUSTIFICATION[got.justification], want.justification, `${want.vulnerability}/${want.package}`);
      }
    });
  }

  it("cites the loader's merged-/usr paths and the ELF interpreter as evidence for libc6", () => {
    const { verdicts } = scoreReachability({ catalogue, profile: DEMO_RUN, report: scan });
    const libc = verdicts.find((v) => v.packageName === "libc6");
    assert.ok(libc?.evidence.some((e) => e.kind === "file_opened" && e.path === "/lib/x86_64-linux-gnu/libc.so.6"));
    assert.ok(libc?.evidence.some((e) => e.kind === "elf_interpreter" && e.path === "/lib64/ld-linux-x86-64.so.2"));
  });

  it("keeps dash under investigation while the catalogue cannot say what interprets /app/run.sh, and says affected once it can", () => {
    const dashScan = parseVulnerabilityReport(
      JSON.stringify({ matches: [{ vulnerability: { id: "CVE-TEST-DASH" }, artifact: { name: "dash", version: "0.5.12-2", type: "deb" } }] }),
    );
    const unknown = scoreReachability({ catalogue, profile: DEMO_RUN, report: dashScan }).verdicts[0];
    assert.equal(unknown?.status, VexStatus.UNDER_INVESTIGATION);
    const withShebang = { ...catalogue, elfInterpreters: { ...catalogue.elfInterpreters, "/app/run.sh": "/bin/sh" } };
    const known = scoreReachability({ catalogue: withShebang, profile: DEMO_RUN, report: dashScan }).verdicts[0];
    assert.equal(known?.status, VexStatus.AFFECTED);
    assert.ok(known?.evidence.some((e) => e.path === "/bin/sh"));
  });

  it("summarises the run: 9 executables, 4 shared libraries, the packages touched out of 88", () => {
    const { summary } = scoreReachability({ catalogue, profile: DEMO_RUN, report: scan });
    assert.equal(summary.executablesRun, 9);
    assert.equal(summary.sharedLibrariesLoaded, 4);
    assert.equal(catalogue.packages.length, 88);
    // tar, gzip, coreutils, grep, libc6, libacl1, libselinux1, libpcre2-8-0
    assert.equal(summary.codeCoveragePercent, Math.round(((100 * 8) / 88) * 1000) / 1000);
  });
});
