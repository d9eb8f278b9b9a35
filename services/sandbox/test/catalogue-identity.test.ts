import { strict as assert } from "node:assert";
import { copyFileSync, linkSync, lstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ImageCatalogue } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { buildCatalogue, HostileDpkgDatabaseError, kernelDevice } from "../src/catalogue/index.js";

function put(root: string, path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content, { mode });
}

function fileNamed(c: ImageCatalogue, path: string) {
  const f = c.files.find((x) => x.paths.includes(path));
  assert.ok(f !== undefined, `${path} is catalogued`);
  return f;
}

function ownersOf(c: ImageCatalogue, path: string): string[] {
  return fileNamed(c, path)
    .owners.map((i) => c.packages[i]!.name)
    .sort();
}

function stanza(name: string, status: string, extra = ""): string {
  return `Package: ${name}\nStatus: ${status}\nArchitecture: amd64\nVersion: 1.0-1\n${extra}`;
}

describe("image catalogue by file identity (Debian trees unpacked for real)", () => {
  let dir: TempDir;
  let root: string;
  let c: ImageCatalogue;
  before(async () => {
    dir = await tempDir("catid");
    root = dir.path;
    for (const d of ["usr/bin", "usr/lib/python3/dist-packages/mod/__pycache__", "usr/sbin", "etc/alternatives", "var/lib/dpkg/info", "app"])
      mkdirSync(join(root, d), { recursive: true });
    symlinkSync("usr/bin", join(root, "bin"));
    symlinkSync("usr/sbin", join(root, "sbin"));
    copyFileSync("/bin/busybox", join(root, "usr/bin/busybox"));
    // A hard-link group: busybox under two more names, as a layer tar's hard links extract.
    linkSync(join(root, "usr/bin/busybox"), join(root, "usr/bin/sh"));
    linkSync(join(root, "usr/bin/busybox"), join(root, "usr/sbin/ip"));
    put(root, "usr/bin/held-tool", "#!/bin/sed -f\ns/a/b/\n", 0o755);
    put(root, "usr/bin/half", "half", 0o755);
    put(root, "usr/bin/gone", "gone", 0o755);
    // Diversion: the real file of "base" is moved to /usr/bin/tool.distrib; the diverter owns /usr/bin/tool.
    put(root, "usr/bin/tool", "#!/bin/sh\necho diverted\n", 0o755);
    put(root, "usr/bin/tool.distrib", "#!/bin/sh\necho original\n", 0o755);
    put(root, "usr/lib/python3/dist-packages/mod/x.py", "print(1)\n");
    put(root, "usr/lib/python3/dist-packages/mod/__pycache__/x.cpython-311.pyc", "\x00\x00\r\nbytecode");
    put(root, "usr/lib/python3/dist-packages/mod/y.py", "print(2)\n");
    put(root, "usr/lib/python3/dist-packages/mod/y.pyc", "\x00\x00\r\nbytecode");
    put(root, "usr/bin/editor-real", "#!/bin/sh\n", 0o755);
    symlinkSync("/etc/alternatives/editor", join(root, "usr/bin/editor"));
    symlinkSync("/usr/bin/editor-real", join(root, "etc/alternatives/editor"));
    put(root, "usr/lib/distroless-file", "from status.d");
    put(root, "app/server", "#!/bin/sh\nexec sleep 1\n", 0o755);
    put(root, "etc/os-release", 'ID=debian\nVERSION_ID="12"\n');
    put(
      root,
      "var/lib/dpkg/status",
      [
        stanza("busybox", "install ok installed"),
        stanza("held", "hold ok installed"),
        stanza("removing", "deinstall ok installed"),
        stanza("half", "install reinstreq half-installed"),
        stanza("unpacked-only", "install ok unpacked"),
        stanza("gone", "deinstall ok config-files"),
        stanza("never", "purge ok not-installed"),
        stanza("base", "install ok installed"),
        stanza("diverter", "install ok installed"),
        stanza("python3-mod", "install ok installed"),
        stanza("editor", "install ok installed"),
      ].join("\n"),
    );
    const lists: Record<string, string> = {
      "busybox:amd64": "/.\n/bin\n/bin/busybox\n",
      held: "/usr/bin/held-tool\n",
      removing: "/usr/bin/gone\n",
      half: "/usr/bin/half\n",
      "base:amd64": "/bin/tool\n",
      diverter: "/usr/bin/tool\n",
      "python3-mod": "/usr/lib/python3/dist-packages/mod/x.py\n/usr/lib/python3/dist-packages/mod/y.py\n",
      editor: "/usr/bin/editor\n",
    };
    for (const [n, l] of Object.entries(lists)) put(root, `var/lib/dpkg/info/${n}.list`, l);
    put(root, "var/lib/dpkg/diversions", "/usr/bin/tool\n/usr/bin/tool.distrib\ndiverter\n");
    put(root, "var/lib/dpkg/status.d/distroless-pkg", "Package: distroless-pkg\nVersion: 2\nArchitecture: amd64\n");
    put(root, "var/lib/dpkg/status.d/distroless-pkg.md5sums", "0123456789abcdef0123456789abcdef  usr/lib/distroless-file\n");
    c = await buildCatalogue(root, "sha256:abc");
  });
  after(async () => {
    await dir.remove();
  });

  it("declares inode identity and a written rule for unowned files", () => {
    assert.equal(c.identity, "inode");
    assert.match(c.unownedRule, /not a gap/);
    assert.deepEqual(fileNamed(c, "/app/server").owners, []);
    assert.equal(fileNamed(c, "/app/server").ownerRule, "");
  });

  it("gives every file the identity stat reports, with the device split as the kernel splits s_dev", () => {
    for (const path of ["/usr/bin/busybox", "/app/server", "/etc/os-release"]) {
      const st = statSync(join(root, path), { bigint: true });
      const f = fileNamed(c, path);
      const { major, minor } = kernelDevice(st.dev);
      assert.equal(f.id?.inode, st.ino);
      assert.equal(f.id?.devMajor, major);
      assert.equal(f.id?.devMinor, minor);
    }
    const dev = lstatSync(root).dev;
    assert.equal(fileNamed(c, "/app/server").id?.devMajor, Math.floor(dev / 256) & 0xfff, "glibc major of a small device number");
  });

  it("keeps hold and deinstall-but-installed packages, marks half-installed and unpacked ones partial, and drops only absent ones", () => {
    const state = Object.fromEntries(c.packages.map((p) => [p.name, p.installState]));
    assert.equal(state["held"], "installed");
    assert.equal(state["removing"], "installed");
    assert.equal(state["half"], "partial");
    assert.equal(state["unpacked-only"], "partial");
    assert.equal(state["gone"], undefined);
    assert.equal(state["never"], undefined);
    assert.deepEqual(ownersOf(c, "/usr/bin/held-tool"), ["held"]);
  });

  it("catalogues one inode for a hard-link group and every name shares its owners", () => {
    const f = fileNamed(c, "/usr/bin/sh");
    assert.deepEqual(f.paths, ["/usr/bin/busybox", "/usr/bin/sh", "/usr/sbin/ip"]);
    assert.equal(c.files.filter((x) => x.paths.includes("/usr/sbin/ip")).length, 1);
    assert.deepEqual(ownersOf(c, "/usr/sbin/ip"), ["busybox"]);
    assert.equal(f.ownerRule, "hard_link");
    assert.equal(f.kind, "elf_executable");
  });

  it("resolves a package file named through a symlink (merged /usr, alternatives) to the target's inode", () => {
    assert.deepEqual(ownersOf(c, "/usr/bin/busybox"), ["busybox"], "/bin/busybox listed through the /bin -> usr/bin link");
    assert.deepEqual(ownersOf(c, "/usr/bin/editor-real"), ["editor"], "/usr/bin/editor -> /etc/alternatives/editor -> /usr/bin/editor-real");
    assert.equal(fileNamed(c, "/usr/bin/editor-real").ownerRule, "package_list");
  });

  it("applies a dpkg diversion (also to a package listing the path through merged /usr): the diverted package owns the moved file, the diverter the original path", () => {
    assert.deepEqual(c.diversions, ["/usr/bin/tool -> /usr/bin/tool.distrib (by diverter)"]);
    assert.deepEqual(ownersOf(c, "/usr/bin/tool.distrib"), ["base"]);
    assert.equal(fileNamed(c, "/usr/bin/tool.distrib").ownerRule, "diversion");
    assert.deepEqual(ownersOf(c, "/usr/bin/tool"), ["diverter"]);
  });

  it("reads distroless status.d stanzas with their md5sums file lists", () => {
    const p = c.packages.find((x) => x.name === "distroless-pkg");
    assert.equal(p?.installState, "installed");
    assert.deepEqual(ownersOf(c, "/usr/lib/distroless-file"), ["distroless-pkg"]);
  });

  it("gives Python byte-code (__pycache__ and legacy .pyc) the owners of its .py source", () => {
    for (const pyc of ["/usr/lib/python3/dist-packages/mod/__pycache__/x.cpython-311.pyc", "/usr/lib/python3/dist-packages/mod/y.pyc"]) {
      assert.deepEqual(ownersOf(c, pyc), ["python3-mod"]);
      assert.equal(fileNamed(c, pyc).ownerRule, "python_bytecode_source");
      assert.equal(fileNamed(c, pyc).kind, "python_bytecode");
    }
  });

  it("records the #! interpreter of every script whatever the interpreter", () => {
    assert.equal(c.elfInterpreters["/usr/bin/held-tool"], "/bin/sed");
    assert.equal(fileNamed(c, "/usr/bin/held-tool").kind, "script");
    assert.equal(c.elfInterpreters["/usr/bin/sh"], undefined, "busybox-static has no PT_INTERP");
  });
});

describe("image catalogue never reads host files on an image's behalf", () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir("cattrap");
  });
  after(async () => {
    await dir.remove();
  });

  function hostHasPackages(c: ImageCatalogue): boolean {
    return c.packages.some((p) => ["runc", "bpftrace", "nats-server"].includes(p.name));
  }

  it("finds no packages when /var/lib/dpkg is an absolute symlink to the host's /var/lib/dpkg", async () => {
    const root = join(dir.path, "a");
    mkdirSync(join(root, "var/lib"), { recursive: true });
    symlinkSync("/var/lib/dpkg", join(root, "var/lib/dpkg"));
    symlinkSync("../../../../../../../../var/lib/dpkg", join(root, "var/lib/dpkg-rel"));
    const c = await buildCatalogue(root, "sha256:abc");
    assert.deepEqual(c.ecosystems, []);
    assert.equal(c.packages.length, 0);
    assert.equal(hostHasPackages(c), false);
  });

  it("reads none of the host's status, info lists, diversions or os-release when each is a symlink to it", async () => {
    const root = join(dir.path, "b");
    mkdirSync(join(root, "var/lib/dpkg/status.d"), { recursive: true });
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(join(root, "usr/lib"), { recursive: true });
    symlinkSync("/var/lib/dpkg/status", join(root, "var/lib/dpkg/status"));
    symlinkSync("/var/lib/dpkg/info", join(root, "var/lib/dpkg/info"));
    symlinkSync("/var/lib/dpkg/diversions", join(root, "var/lib/dpkg/diversions"));
    symlinkSync("/etc/os-release", join(root, "etc/os-release"));
    symlinkSync("../../../../../usr/lib/os-release", join(root, "usr/lib/os-release"));
    // The image's own package (status.d) whose list would be the host's if info/ were followed.
    writeFileSync(join(root, "var/lib/dpkg/status.d/bash"), "Package: bash\nVersion: 5\nArchitecture: amd64\n");
    symlinkSync("/var/lib/dpkg/info/bash.md5sums", join(root, "var/lib/dpkg/status.d/bash.md5sums"));
    const c = await buildCatalogue(root, "sha256:abc");
    assert.deepEqual(
      c.packages.map((p) => p.name),
      ["bash"],
    );
    assert.deepEqual(c.packages[0]!.files, [], "the host's bash.md5sums is not the image's");
    assert.equal(hostHasPackages(c), false);
    assert.deepEqual(c.diversions, []);
    assert.equal(c.distroId, "");
  });

  it("refuses an image whose dpkg database names a package ../../../etc", async () => {
    const root = join(dir.path, "c");
    mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
    writeFileSync(join(root, "var/lib/dpkg/status"), "Package: ../../../etc\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n");
    await assert.rejects(buildCatalogue(root, "sha256:abc"), (e: unknown) => e instanceof HostileDpkgDatabaseError && /\.\.\/\.\.\/\.\.\/etc/.test(e.message));
  });

  it("refuses an architecture that would leave info/", async () => {
    const root = join(dir.path, "d");
    mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
    writeFileSync(
      join(root, "var/lib/dpkg/status"),
      "Package: ok\nStatus: install ok installed\nArchitecture: ../../../../var/lib/dpkg/info/runc\nVersion: 1\n",
    );
    await assert.rejects(buildCatalogue(root, "sha256:abc"), HostileDpkgDatabaseError);
  });
});

describe("dpkg package names with a multi-arch qualifier", () => {
  it("accepts name:arch in the Package field and reads that architecture's file list", async () => {
    const dir = await tempDir("catarch");
    try {
      const root = dir.path;
      put(root, "usr/lib/libz.so.1", "so");
      put(root, "var/lib/dpkg/status", "Package: zlib1g:amd64\nStatus: install ok installed\nVersion: 1\n");
      put(root, "var/lib/dpkg/info/zlib1g:amd64.list", "/usr/lib/libz.so.1\n");
      const c = await buildCatalogue(root, "sha256:abc");
      assert.equal(c.packages[0]?.name, "zlib1g");
      assert.equal(c.packages[0]?.architecture, "amd64");
      assert.deepEqual(ownersOf(c, "/usr/lib/libz.so.1"), ["zlib1g"]);
    } finally {
      await dir.remove();
    }
  });
});
