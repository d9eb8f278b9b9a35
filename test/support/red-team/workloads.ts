/**
 * The red-team workloads, stored "in the image" under /opt/redteam of the prepared root before
 * the catalogue is built: a perl self-report (ground truth: /proc/self/exe and /proc/self/maps),
 * the per-channel perl programs, "#!" scripts, a hard link to /usr/bin/perl and an
 * alternatives-style symlink chain. Everything a case makes at run time (links in /tmp) is made
 * by the case's own command line.
 */
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Printed by every perl the suite runs: see ground-truth.ts for the line formats. */
const REPORT_PL = String.raw`# Ground truth of the VEXxy red-team suite: what this process is, in the kernel's own words.
$| = 1;
my @s = stat("/proc/self/exe");
print "RT-EXE $s[0] $s[1]\n";
# One line per mapped file (the driver keeps only the last 4 KiB of stdout): base name only.
my %seen;
if (open(my $m, "<", "/proc/self/maps")) {
  while (my $l = <$m>) {
    my @f = split(" ", $l);
    next unless @f >= 5 && $f[4] ne "0" && !$seen{"$f[3] $f[4]"}++;
    my $name = defined $f[5] ? $f[5] : "";
    $name =~ s{.*/}{};
    print "RT-MAP $f[3] $f[4] $name\n";
  }
  close($m);
}
1;
`;

/** execveat(fd, "", argv, envp, AT_EMPTY_PATH) of /usr/bin/perl5.36.0: the exec has no path at all. */
const EXECVEAT_PL = String.raw`$| = 1;
open(my $fh, "<", "/usr/bin/perl5.36.0") or die "open: $!";
my ($a0, $a1) = ("perl-by-fd", "/opt/redteam/report.pl");
my $argv = pack("ppQ", $a0, $a1, 0);
my $envp = pack("Q", 0);
my $empty = "";
my $fd = fileno($fh) + 0;
syscall(322, $fd, $empty, $argv, $envp, 0x1000);
print "RT-EXECVEAT-FAILED $!\n";
exit 0;
`;

/** POSIX.so (perl-base's XS module) and libgmp.so.10 (libgmp10, linked by nothing the suite runs) loaded with dlopen. */
const DLOPEN_PL = `$| = 1;
use POSIX ();
require DynaLoader;
DynaLoader::dl_load_file("/usr/lib/x86_64-linux-gnu/libgmp.so.10", 0) or die "dl_load_file: " . DynaLoader::dl_error();
require "/opt/redteam/report.pl";
`;

/** io_uring_setup(8, params): 425 on x86_64. Prints the result, then the self-report. */
const IO_URING_PL = String.raw`$| = 1;
my $p = "\0" x 120;
my $fd = syscall(425, 8, $p);
print "RT-URING ", $fd, " ", ($fd < 0 ? "errno=" . ($! + 0) . " ($!)" : "ring"), "\n";
require "/opt/redteam/report.pl";
`;

/**
 * Tries to leave the traced cgroup: unshare a user, mount and cgroup namespace, mount cgroup2,
 * make a child cgroup and move into it; then execs perl again, which the trace must still see.
 */
const ESCAPE_PL = String.raw`$| = 1;
my $r = syscall(272, 0x10000000 | 0x00020000 | 0x02000000);
print "RT-UNSHARE user+mnt+cgroup ", ($r < 0 ? "denied ($!)" : "ok"), "\n";
# syscall() hands strings over as writable buffers: literals are refused, so variables.
my ($src, $target, $type) = ("none", "/sys/fs/cgroup", "cgroup2");
my $m = syscall(165, $src, $target, $type, 0, 0);
print "RT-MOUNT cgroup2 ", ($m < 0 ? "denied ($!)" : "ok"), "\n";
for my $dir ("/sys/fs/cgroup/rt-child", "/sys/fs/cgroup/unified/rt-child") {
  my $ok = mkdir($dir);
  print "RT-MKDIR $dir ", ($ok ? "ok" : "denied ($!)"), "\n";
  if ($ok && open(my $p, ">", "$dir/cgroup.procs")) {
    print {$p} "$$\n";
    my $c = close($p);
    print "RT-MOVE $dir ", ($c ? "ok" : "denied ($!)"), "\n";
  }
}
if (open(my $c, "<", "/proc/self/cgroup")) { while (<$c>) { chomp; print "RT-CGROUP $_\n"; } }
exec("/usr/bin/perl", "/opt/redteam/report.pl") or print "RT-EXEC-FAILED $!\n";
`;

const SHEBANG_BODY = `require "/opt/redteam/report.pl";\n`;

/** Paths (inside the image) the suite stores, for the test to name. */
export const REDTEAM = Object.freeze({
  dir: "/opt/redteam",
  report: "/opt/redteam/report.pl",
  hardLink: "/opt/redteam/hl-perl",
  altLink: "/opt/redteam/alt/perl",
  interpreterLink: "/opt/redteam/bin/pl",
});

/**
 * Writes the workloads into root/opt/redteam (before the catalogue and before the sandbox
 * shifts ownership). The hard link shares /usr/bin/perl's inode (so also perl5.36.0's).
 */
export function installRedTeamFiles(root: string): void {
  const dir = join(root, "opt/redteam");
  mkdirSync(join(dir, "bin"), { recursive: true });
  mkdirSync(join(dir, "alt"), { recursive: true });
  mkdirSync(join(dir, "alternatives"), { recursive: true });
  const files: Record<string, string> = {
    "report.pl": REPORT_PL,
    "execveat.pl": EXECVEAT_PL,
    "dlopen.pl": DLOPEN_PL,
    "io-uring.pl": IO_URING_PL,
    "escape.pl": ESCAPE_PL,
    "sb-direct.pl": `#!/usr/bin/perl -w\n${SHEBANG_BODY}`,
    // An interpreter name no package lists: a symlink stored in the image.
    "sb-link.pl": `#!/opt/redteam/bin/pl -w\n${SHEBANG_BODY}`,
    // The hard link as interpreter.
    "sb-hardlink.pl": `#!/opt/redteam/hl-perl -w\n${SHEBANG_BODY}`,
    // An interpreter that exists only at run time (made in /tmp by the case).
    "sb-tmp.pl": `#!/tmp/rt-interp -w\n${SHEBANG_BODY}`,
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
  linkSync(join(root, "usr/bin/perl"), join(dir, "hl-perl"));
  symlinkSync("/usr/bin/perl", join(dir, "bin/pl"));
  // alternatives style: /opt/redteam/alt/perl -> ../alternatives/perl -> /usr/bin/perl5.36.0
  symlinkSync("../alternatives/perl", join(dir, "alt/perl"));
  symlinkSync("/usr/bin/perl5.36.0", join(dir, "alternatives/perl"));
}
