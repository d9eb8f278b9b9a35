/**
 * LocalRuncDriver, the sandbox seam's local implementation, on real skopeo and runc: from an
 * image reference to a created sandbox (intake, catalogue, process, container) and back to
 * nothing. The image is a busybox OCI layout built by the test; a second, bulky one gives an
 * abort time to land while its layer is being unpacked.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { allCgroupDirsFor } from "../src/driver/cgroup-layout.js";
import { SandboxCreateAbortedError } from "../src/driver/driver-errors.js";
import { LocalRuncDriver } from "../src/driver/runc-driver.js";
import type { SandboxHandle } from "../src/driver/sandbox-driver.js";
import { ImageDigestMismatchError } from "../src/image/index.js";
import { makeBusyboxOciImage, type TestImage } from "./helpers/busybox-oci-image.js";
import { makeBusyboxRootfs } from "./helpers/busybox-rootfs.js";

describe("LocalRuncDriver: image reference in, host-cgroup trace scope out (real skopeo and runc)", function () {
  this.timeout(120000);
  let dir: TempDir;
  let driver: LocalRuncDriver;
  let small: TestImage;
  let bulky: TestImage;
  const created: string[] = [];

  before(async () => {
    dir = await tempDir("local-runc-driver");
    const rootfs = makeBusyboxRootfs(join(dir.path, "small"));
    small = makeBusyboxOciImage(join(dir.path, "small"), rootfs, {
      cmd: ["/bin/sh", "-c", 'echo "greeting=$GREETING base=$BASE"'],
      env: ["PATH=/bin", "BASE=image", "GREETING=image"],
    });
    // 20,000 small files in one layer: unpacking takes long enough for an abort to land in it.
    const bulkyRoot = makeBusyboxRootfs(join(dir.path, "bulky"));
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(bulkyRoot, "data", String(d)), { recursive: true });
      for (let f = 0; f < 200; f++) writeFileSync(join(bulkyRoot, "data", String(d), String(f)), `${d}/${f}\n`);
    }
    bulky = makeBusyboxOciImage(join(dir.path, "bulky"), bulkyRoot, { cmd: ["/bin/true"] });
    driver = new LocalRuncDriver({ workDir: join(dir.path, "driver"), limits: { memoryBytes: 256 * 1024 ** 2, pids: 64 } });
  });

  after(async () => {
    for (const id of created) await driver.destroy(id).catch(() => undefined);
    await dir?.remove();
  });

  function newId(): string {
    const id = `vexxy-drv${randomBytes(3).toString("hex")}-1`;
    created.push(id);
    return id;
  }

  /** Asserts that nothing of the sandbox exists: runc container, cgroup directories, bundle, unpacked image. */
  async function assertNothingLeft(id: string): Promise<void> {
    assert.ok(!(await driver.list()).includes(id), `runc still lists ${id}`);
    for (const cg of allCgroupDirsFor(driver.runtime.layout, driver.runtime.cgroupsPathOf(id))) assert.ok(!existsSync(cg), `cgroup ${cg} left`);
    assert.ok(!existsSync(driver.runtime.bundleDirOf(id)), "bundle left");
    assert.ok(!existsSync(driver.imageDirOf(id)), "unpacked image left");
  }

  function hostCgroup(handle: SandboxHandle): { cgroupV2Path: string; initPid: number } {
    assert.equal(handle.traceScope.kind, "host_cgroup");
    if (handle.traceScope.kind !== "host_cgroup") throw new Error("unreachable");
    return handle.traceScope;
  }

  it("creates a sandbox from an image reference: the verified digest, the image's catalogue, this host as location, and a host_cgroup scope whose cgroup holds the waiting init while created and is gone after destroy, with the unpacked image", async () => {
    const id = newId();
    const handle = await driver.create({ containerId: id, image: { ref: small.imageRef, expectedDigest: small.imageDigest } });
    assert.equal(handle.containerId, id);
    assert.equal(handle.manifestDigest, small.imageDigest);
    assert.equal(handle.catalogue.imageDigest, small.imageDigest);
    assert.equal(handle.catalogue.symlinks["/bin/sh"], "busybox");
    assert.equal(handle.location.runtime, "runc");
    assert.notEqual(handle.location.node, "");
    assert.equal(handle.limits.memoryBytes, 256 * 1024 ** 2);
    const scope = hostCgroup(handle);
    assert.ok(existsSync(scope.cgroupV2Path), `${scope.cgroupV2Path} exists while created`);
    const procs = readFileSync(join(scope.cgroupV2Path, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((p) => p !== "")
      .map(Number);
    assert.deepEqual(procs, [scope.initPid], "only the held init is in the cgroup");
    assert.ok(existsSync(driver.imageDirOf(id)), "the image is unpacked while the sandbox exists");

    await driver.destroy(id);
    assert.ok(!existsSync(scope.cgroupV2Path), `${scope.cgroupV2Path} is gone after destroy`);
    await assertNothingLeft(id);
    await driver.destroy(id); // idempotent
  });

  it("runs the image's command with the job's environment laid over the image's own", async () => {
    const id = newId();
    await driver.create({ containerId: id, image: { ref: small.imageRef, expectedDigest: small.imageDigest }, environment: { GREETING: "job" } });
    await driver.start(id);
    const result = await driver.wait(id, 20000);
    assert.equal(result.exitCode, 0, result.stderrTail);
    assert.equal(result.stdoutTail.trim(), "greeting=job base=image");
    await driver.destroy(id);
    await assertNothingLeft(id);
  });

  it("refuses an image whose manifest digest differs with ImageDigestMismatchError naming image_digest, leaving nothing behind", async () => {
    const id = newId();
    await assert.rejects(
      driver.create({ containerId: id, image: { ref: small.imageRef, expectedDigest: `sha256:${"0".repeat(64)}` } }),
      (error: unknown) => error instanceof ImageDigestMismatchError && /image_digest/.test(error.message),
    );
    await assertNothingLeft(id);
  });

  it("stops when aborted while the image is being unpacked (before any container exists) and leaves nothing behind", async () => {
    const id = newId();
    const abort = new AbortController();
    const rootfsDir = join(driver.imageDirOf(id), "rootfs");
    let abortedDuringUnpack = false;
    let bundleAtAbort = true;
    const watcher = setInterval(() => {
      // Abort once the layer's extraction has begun (its data/ directory is unpacked).
      if (!abort.signal.aborted && existsSync(join(rootfsDir, "data"))) {
        abortedDuringUnpack = true;
        bundleAtAbort = existsSync(driver.runtime.bundleDirOf(id));
        abort.abort(new Error("test cancel"));
      }
    }, 1);
    try {
      await assert.rejects(
        driver.create({ containerId: id, image: { ref: bulky.imageRef, expectedDigest: bulky.imageDigest } }, abort.signal),
        (error: unknown) => error instanceof SandboxCreateAbortedError && error.containerId === id,
      );
    } finally {
      clearInterval(watcher);
    }
    assert.ok(abortedDuringUnpack, "the abort landed while the layer was being unpacked");
    assert.equal(bundleAtAbort, false, "no bundle existed yet when the abort came");
    await assertNothingLeft(id);
  });

  it("stops before intake when the signal is already aborted", async () => {
    const id = newId();
    await assert.rejects(
      driver.create({ containerId: id, image: { ref: small.imageRef, expectedDigest: small.imageDigest } }, AbortSignal.abort(new Error("cancelled before"))),
      SandboxCreateAbortedError,
    );
    await assertNothingLeft(id);
  });
});
