import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  CataloguedFileSchema,
  FileIdentitySchema,
  FileUseSchema,
  SyscallAttemptSchema,
  VexJustification,
  VexStatus,
  type ExecutionProfile,
  type FileUse,
  type ImageCatalogue,
  type Verdict,
} from "@vexxy/proto";
import { parseVulnerabilityReport } from "@vexxy/scan-report";
import { scoreReachability } from "../src/verdict/decide-verdicts.js";
import { catalogue, grypeMatch, profile } from "./helpers.js";

// Image root on device 8:1 (kernel split), as the local runc root gives it.
const ROOT = { devMajor: 8, devMinor: 1 };
const GAWK = { name: "gawk", version: "1:5.2.1-2", files: ["/usr/bin/gawk", "/usr/lib/x86_64-linux-gnu/gawk/ordchr.so"] };
const PY = {
  name: "libpython3.11-stdlib",
  version: "3.11.2-6",
  files: ["/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/__pycache__/json.cpython-311.pyc"],
};
const DASH = { name: "dash", version: "0.5.12-2", files: ["/bin/dash", "/bin/sh"] };
const LIBC = { name: "libc6", version: "2.36-9", files: ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"] };
const CONTROL = { name: "tar", version: "1.34+dfsg-1.2", files: ["/bin/tar"] };
const DIVERTED = { name: "coreutils", version: "9.1-1", files: ["/usr/bin/ls"] };

function file(inode: number, paths: string[], owners: number[], kind: string) {
  return create(CataloguedFileSchema, { id: create(FileIdentitySchema, { ...ROOT, inode: BigInt(inode) }), paths, owners, kind, ownerRule: "dpkg" });
}

/** Packages: 0 gawk, 1 python stdlib, 2 dash, 3 libc6, 4 tar (control), 5 coreutils. */
function image(identity: "inode" | "path" = "inode"): ImageCatalogue {
  const cat = catalogue([GAWK, PY, DASH, LIBC, CONTROL, DIVERTED], {
    symlinks: { "/usr/bin/sh": "dash", "/lib64/ld-linux-x86-64.so.2": "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    interpreters: {
      "/usr/bin/gawk": "/lib64/ld-linux-x86-64.so.2",
      "/usr/bin/dash": "/lib64/ld-linux-x86-64.so.2",
      "/usr/bin/tar": "/lib64/ld-linux-x86-64.so.2",
      "/usr/local/bin/run.sh": "/usr/bin/sh",
    },
  });
  cat.identity = identity;
  cat.files = [
    // Hard-link group: /usr/bin/gawk and a name no package lists.
    file(100, ["/usr/bin/gawk", "/usr/local/bin/awk-copy"], [0], "elf_executable"),
    file(101, ["/usr/lib/python3.11/__pycache__/json.cpython-311.pyc"], [1], "python_bytecode"),
    file(102, ["/usr/bin/dash"], [2], "elf_executable"),
    file(103, ["/usr/lib/x86_64-linux-gnu/libc.so.6"], [3], "elf_shared_object"),
    file(104, ["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"], [3], "elf_shared_object"),
    file(105, ["/usr/bin/tar"], [4], "elf_executable"),
    // Diverted: the package's /usr/bin/ls moved to /usr/bin/ls.distrib.
    file(106, ["/usr/bin/ls.distrib"], [5], "elf_executable"),
    file(107, ["/usr/local/bin/unowned-tool"], [], "elf_executable"),
    file(108, ["/usr/local/bin/run.sh"], [], "script"),
  ];
  return cat;
}

function use(inode: number | undefined, path: string, access: string, extra: Partial<{ major: number; truncated: boolean }> = {}): FileUse {
  return create(FileUseSchema, {
    ...(inode !== undefined
      ? { id: create(FileIdentitySchema, { devMajor: extra.major ?? ROOT.devMajor, devMinor: ROOT.devMinor, inode: BigInt(inode) }) }
      : {}),
    path,
    access,
    count: 1n,
    pathTruncated: extra.truncated ?? false,
  });
}

// A baseline run: dash executed (so the trace shows what ran), libc mapped.
const BASE = [use(102, "/bin/sh", "exec"), use(103, "/lib/x86_64-linux-gnu/libc.so.6", "mmap_exec")];

function run(uses: FileUse[], identity = "inode", extra: Partial<ExecutionProfile> = {}): ExecutionProfile {
  return profile([], { uses: [...BASE, ...uses], identity, ...extra });
}

const MATCHES = [
  grypeMatch("CVE-1", "gawk", GAWK.version),
  grypeMatch("CVE-2", "libpython3.11-stdlib", PY.version),
  grypeMatch("CVE-3", "tar", CONTROL.version),
  grypeMatch("CVE-4", "coreutils", DIVERTED.version),
];

function verdicts(p: ExecutionProfile, cat: ImageCatalogue = image()): Map<string, Verdict> {
  const result = scoreReachability({ catalogue: cat, profile: p, report: parseVulnerabilityReport(JSON.stringify({ matches: MATCHES })) });
  return new Map(result.verdicts.map((v) => [v.packageName, v]));
}

function statusOf(map: Map<string, Verdict>, name: string): VexStatus {
  const v = map.get(name);
  assert.ok(v !== undefined, `no verdict for ${name}`);
  return v.status;
}

describe("attribution by the kernel's file identity", () => {
  const shapes: Array<[string, FileUse]> = [
    ["a symlink made at run time in /tmp", use(100, "/tmp/x/awk", "exec")],
    ["a /proc/self/fd label", use(100, "/proc/self/fd/3", "open")],
    ["a hard-link name no package lists", use(100, "/usr/local/bin/awk-copy", "exec")],
    ["an exec through /dev/fd/N", use(100, "/dev/fd/4", "exec")],
    ["a relative label ./awk", use(100, "./awk", "exec")],
    ["a 300-byte truncated label", use(100, `/${"d".repeat(298)}`, "exec", { truncated: true })],
    ["a non-ASCII label", use(100, "/tmp/\u00e4wk\u2603", "exec")],
  ];
  for (const [shape, bypass] of shapes) {
    it(`calls gawk affected when it is used through ${shape}, and keeps the control package not_affected`, () => {
      const map = verdicts(run([bypass]));
      assert.equal(statusOf(map, "gawk"), VexStatus.AFFECTED);
      assert.equal(statusOf(map, "tar"), VexStatus.NOT_AFFECTED);
      assert.equal(map.get("tar")?.justification, VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH);
    });
  }

  it("calls the stdlib affected when only its pyc is read, as file_read, and keeps tar not_affected", () => {
    const map = verdicts(run([use(101, "/usr/lib/python3.11/json/__pycache__/../x.pyc", "open")]));
    assert.equal(statusOf(map, "libpython3.11-stdlib"), VexStatus.AFFECTED);
    assert.equal(map.get("libpython3.11-stdlib")?.evidence[0]?.kind, "file_read");
    assert.equal(statusOf(map, "tar"), VexStatus.NOT_AFFECTED);
  });

  it("calls the owner of a diverted file affected when it runs under its diverted name", () => {
    const map = verdicts(run([use(106, "/usr/bin/ls", "exec")]));
    assert.equal(statusOf(map, "coreutils"), VexStatus.AFFECTED);
    assert.equal(statusOf(map, "tar"), VexStatus.NOT_AFFECTED);
  });

  it("marks exec as code_executed and credits the ELF interpreter's package as code_executed too", () => {
    const map = verdicts(run([use(105, "/bin/tar", "exec")]));
    const tar = map.get("tar");
    assert.equal(tar?.status, VexStatus.AFFECTED);
    assert.equal(tar?.evidence[0]?.kind, "code_executed");
  });

  it("puts every untouched package under investigation when an inode trace has a use without identity", () => {
    const map = verdicts(run([use(undefined, "/usr/bin/whatever", "exec")]));
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
    assert.match(map.get("tar")?.reason ?? "", /no file identity/);
  });

  it("puts every untouched package under investigation when no executed file matches the catalogue by identity (the identities describe another filesystem)", () => {
    const elsewhere = profile([], {
      identity: "inode",
      uses: [use(102, "/bin/sh", "exec", { major: 253 }), use(103, "/lib/x86_64-linux-gnu/libc.so.6", "mmap_exec", { major: 253 })],
    });
    const map = verdicts(elsewhere);
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
    assert.match(map.get("tar")?.reason ?? "", /identities disagree/);
  });

  it("quotes the tracer's loss reasons, unattributed and untraced channels included, in the reason", () => {
    const map = verdicts(run([], "inode", { lossReasons: ["unattributed", "untraced_channel:io_uring_setup"] }));
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
    assert.match(map.get("tar")?.reason ?? "", /unattributed/);
  });

  it("puts a package whose install state is partial under investigation", () => {
    const cat = image();
    const tar = cat.packages[4];
    assert.ok(tar !== undefined);
    tar.installState = "partial";
    const map = verdicts(run([]), cat);
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
  });

  it("lists unowned code that ran, code created at run time, and untraced channel attempts in the summary", () => {
    const p = run(
      [use(107, "/usr/local/bin/unowned-tool", "exec"), use(9, "/tmp/dropped", "mmap_exec", { major: 0 }), use(108, "/usr/local/bin/run.sh", "exec_script")],
      "inode",
      { untracedChannelAttempts: [create(SyscallAttemptSchema, { syscall: "io_uring_setup", succeeded: 0n, failed: 2n })] },
    );
    const result = scoreReachability({ catalogue: image(), profile: p, report: parseVulnerabilityReport(JSON.stringify({ matches: MATCHES })) });
    assert.deepEqual(result.summary.unownedCode, ["/tmp/dropped", "/usr/local/bin/run.sh", "/usr/local/bin/unowned-tool"]);
    assert.deepEqual(result.summary.untracedChannelAttempts, ["io_uring_setup: 0 ok, 2 failed"]);
    // The script's "#!" interpreter (/usr/bin/sh -> dash) is credited.
    assert.equal(result.verdicts.find((v) => v.packageName === "tar")?.status, VexStatus.NOT_AFFECTED);
  });

  it("puts every untouched package under investigation when a file created at run time is executed (its ELF interpreter, mapped by the kernel, is unknown)", () => {
    const map = verdicts(run([use(9, "/tmp/dropped", "exec", { major: 0 })]));
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
    assert.match(map.get("tar")?.reason ?? "", /created at run time/);
  });
});

describe("attribution by kernel-resolved path (no identities)", () => {
  it("matches a kernel path through a hard-link name of a catalogued file, keeping the control not_affected", () => {
    const map = verdicts(
      profile([], {
        identity: "kernel_path",
        uses: [use(undefined, "/usr/bin/dash", "exec"), use(undefined, "/usr/local/bin/awk-copy", "exec")],
      }),
      image("path"),
    );
    assert.equal(statusOf(map, "gawk"), VexStatus.AFFECTED);
    assert.equal(statusOf(map, "tar"), VexStatus.NOT_AFFECTED);
  });

  it("treats a relative or truncated kernel path as unattributed and fails closed", () => {
    const map = verdicts(
      profile([], { identity: "kernel_path", uses: [use(undefined, "/usr/bin/dash", "exec"), use(undefined, "./awk", "exec")] }),
      image("path"),
    );
    assert.equal(statusOf(map, "tar"), VexStatus.UNDER_INVESTIGATION);
  });
});
