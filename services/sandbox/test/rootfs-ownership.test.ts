import assert from "node:assert/strict";
import { link, lstat, mkdir, symlink, writeFile, lchown, readFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { SandboxRefusedError } from "../src/driver/driver-errors.js";
import { shiftRootfsOwnership } from "../src/driver/rootfs-ownership.js";

const mapping = { hostId: 100_000, size: 65_536 };

describe("rootfs ownership shift into the sandbox's host id range", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir("idshift");
  });
  afterEach(() => dir.remove());

  it("shifts each inode once, whatever number of hard-link names it has (Debian's perl and perl5.36.0)", async () => {
    const root = join(dir.path, "rootfs");
    await mkdir(join(root, "usr/bin"), { recursive: true });
    await writeFile(join(root, "usr/bin/perl"), "elf");
    await lchown(join(root, "usr/bin/perl"), 0, 0);
    for (const name of ["perl5.36.0", "zz-third-name"]) await link(join(root, "usr/bin/perl"), join(root, "usr/bin", name));
    await writeFile(join(root, "usr/bin/games"), "x");
    await lchown(join(root, "usr/bin/games"), 5, 60);
    await symlink("perl", join(root, "usr/bin/p"));
    await shiftRootfsOwnership(root, mapping);
    const perl = await lstat(join(root, "usr/bin/perl5.36.0"));
    assert.deepEqual([perl.uid, perl.gid], [100_000, 100_000]);
    const games = await lstat(join(root, "usr/bin/games"));
    assert.deepEqual([games.uid, games.gid], [100_005, 100_060]);
    const link_ = await lstat(join(root, "usr/bin/p"));
    assert.deepEqual([link_.uid, link_.isSymbolicLink()], [100_000, true]);
    assert.equal((await readFile(`${root}.idshift`, "utf8")).trim(), "100000");
  });

  it("resumes a shift interrupted halfway (no marker yet, some files already in the host range)", async () => {
    const root = join(dir.path, "rootfs");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(join(root, "etc/a"), "a");
    await writeFile(join(root, "etc/b"), "b");
    await lchown(join(root, "etc/a"), 100_000, 100_000);
    await lchown(join(root, "etc/b"), 0, 0);
    await shiftRootfsOwnership(root, mapping);
    assert.equal((await lstat(join(root, "etc/a"))).uid, 100_000);
    assert.equal((await lstat(join(root, "etc/b"))).uid, 100_000);
  });

  it("refuses, as final, an image holding an id beyond the mapped range, naming the file", async () => {
    const root = join(dir.path, "rootfs");
    await mkdir(root, { recursive: true });
    await writeFile(join(root, "big"), "x");
    await lchown(join(root, "big"), 70_000, 0);
    await assert.rejects(
      shiftRootfsOwnership(root, mapping),
      (error: unknown) => error instanceof SandboxRefusedError && /big is owned by 70000:0/.test(error.message),
    );
  });
});
