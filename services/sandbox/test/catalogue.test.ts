import { strict as assert } from "node:assert";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { buildCatalogue, interpreterOf, parseCatalogue, resolveInRoot, serializeCatalogue } from "../src/catalogue/index.js";

describe("image catalogue (dpkg, symlinks inside the root, interpreters)", () => {
  let dir: TempDir;
  let root: string;
  before(async () => {
    dir = await tempDir("cat");
    root = dir.path;
    for (const d of ["usr/bin", "usr/lib/x86_64-linux-gnu", "etc", "var/lib/dpkg/info", "app"]) mkdirSync(join(root, d), { recursive: true });
    symlinkSync("usr/bin", join(root, "bin"));
    symlinkSync("usr/lib", join(root, "lib"));
    copyFileSync("/usr/bin/true", join(root, "usr/bin/true"));
    writeFileSync(join(root, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3"), "so");
    symlinkSync("libfoo.so.1.2.3", join(root, "usr/lib/x86_64-linux-gnu/libfoo.so.1"));
    symlinkSync("/../../../etc/shadow", join(root, "usr/lib/escape"));
    writeFileSync(join(root, "app/run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    writeFileSync(join(root, "etc/os-release"), 'ID=debian\nVERSION_ID="12"\n');
    writeFileSync(
      join(root, "var/lib/dpkg/status"),
      [
        "Package: coreutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.1-1\n",
        "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.2.3-1)\nVersion: 1.2.3-1+b1\n",
        "Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n",
      ].join("\n"),
    );
    writeFileSync(join(root, "var/lib/dpkg/info/coreutils.list"), "/.\n/bin\n/bin/true\n/usr\n");
    writeFileSync(join(root, "var/lib/dpkg/info/libfoo1:amd64.list"), "/lib/x86_64-linux-gnu/libfoo.so.1\n");
  });
  after(async () => {
    await dir.remove();
  });

  it("lists installed packages with Trivy-style purls and excludes removed ones", async () => {
    const c = await buildCatalogue(root, "sha256:abc");
    assert.deepEqual(c.ecosystems, ["deb"]);
    assert.deepEqual(c.packages.map((p) => p.name).sort(), ["coreutils", "libfoo1"]);
    const foo = c.packages.find((p) => p.name === "libfoo1")!;
    assert.equal(foo.purl, "pkg:deb/debian/libfoo1@1.2.3-1+b1?arch=amd64&distro=debian-12");
    assert.equal(foo.sourceName, "foo");
    assert.equal(foo.sourceVersion, "1.2.3-1");
    assert.equal(c.distroId, "debian");
    assert.equal(c.distroVersionId, "12");
  });

  it("resolves listed files through merged /usr and library links, omitting directory links", async () => {
    const c = await buildCatalogue(root, "sha256:abc");
    const core = c.packages.find((p) => p.name === "coreutils")!;
    assert.deepEqual(core.files, ["/bin/true"], "the /bin -> usr/bin directory link is not a file of the package");
    assert.deepEqual(core.resolvedFiles, ["/usr/bin/true"]);
    assert.deepEqual(c.packages.find((p) => p.name === "libfoo1")!.resolvedFiles, ["/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3"]);
    assert.equal(c.symlinks["/bin"], "usr/bin");
  });

  it("records the ELF interpreter of an executable and the #! interpreter of a script", async () => {
    const c = await buildCatalogue(root, "sha256:abc");
    assert.equal(c.elfInterpreters["/usr/bin/true"], "/lib64/ld-linux-x86-64.so.2");
    assert.equal(c.elfInterpreters["/app/run.sh"], "/bin/sh");
    assert.equal(await interpreterOf(join(root, "etc/os-release")), undefined);
  });

  it("never resolves a link to a path outside the image root", async () => {
    assert.equal(await resolveInRoot(root, "/usr/lib/escape"), undefined, "/etc/shadow does not exist inside the root");
    writeFileSync(join(root, "etc/shadow"), "inside");
    assert.equal(await resolveInRoot(root, "/usr/lib/escape"), "/etc/shadow");
  });

  it("round-trips through its stored protobuf JSON form", async () => {
    const c = await buildCatalogue(root, "sha256:abc");
    assert.deepEqual(parseCatalogue(serializeCatalogue(c)), c);
  });
});
