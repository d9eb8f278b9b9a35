/**
 * A tiny image root for sandbox tests: the static busybox (Debian's busybox-static, which
 * scripts/setup.sh installs) with a link per applet, and /etc/passwd naming uid 0 and 65534.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** Where Debian's busybox-static installs the binary. */
export const STATIC_BUSYBOX = "/bin/busybox";

/** Builds the root under dir/rootfs and returns its path. @throws when busybox-static is missing. */
export function makeBusyboxRootfs(dir: string): string {
  if (!existsSync(STATIC_BUSYBOX)) throw new Error(`${STATIC_BUSYBOX} is missing: apt-get install -y busybox-static`);
  const rootfs = join(dir, "rootfs");
  for (const sub of ["bin", "etc", "tmp", "run", "proc", "dev", "sys", "work"]) mkdirSync(join(rootfs, sub), { recursive: true });
  copyFileSync(STATIC_BUSYBOX, join(rootfs, "bin", "busybox"));
  const applets = execFileSync(STATIC_BUSYBOX, ["--list"], { encoding: "utf8" })
    .split("\n")
    .filter((a) => a !== "" && a !== "busybox");
  for (const applet of applets) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  return rootfs;
}
