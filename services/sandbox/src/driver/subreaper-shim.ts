/**
 * The exit-status shim of LocalRuncDriver. `runc create` always detaches: it exits once the
 * container's init waits before exec, and the orphaned init is re-parented to the nearest
 * child subreaper (else pid 1, which reaps it and the exit status is lost). Node cannot call
 * prctl, so this small Perl program (perl-base is Essential on Debian, always installed) plays
 * containerd-shim's part: it marks itself PR_SET_CHILD_SUBREAPER, runs `runc create` with the
 * workload's stdout/stderr going to pipes the driver reads, reports `created <initPid>`, then reaps
 * whatever is re-parented to it until the init itself exits and reports `exited <code> <signal>`.
 * It ignores HUP/INT/PIPE so that a dying service does not take the exit status with it.
 *
 * Arguments: <prctl syscall number> <stdout fd> <stderr fd> <pid file> <runc argv...>; the two fds
 * are pipes the driver reads (bounded), handed to runc and so to the workload, closed in the shim.
 * Lines on its stdout: `created <pid>` | `create_failed <code> <signal>` | `exited <code> <signal>`.
 */

/** The Perl source, passed with `perl -e`. */
export const SUBREAPER_SHIM = String.raw`
use strict;
use POSIX ();
$SIG{$_} = 'IGNORE' for qw(HUP INT PIPE);
$| = 1;
my ($nr, $out, $err, $pidfile, @cmd) = @ARGV;
syscall($nr + 0, 36, 1, 0, 0, 0) == 0 or do { print "create_failed 125 0 prctl: $!\n"; exit 1 };
my $child = fork();
defined $child or do { print "create_failed 125 0 fork: $!\n"; exit 1 };
if ($child == 0) {
  open(STDIN, '<', '/dev/null') or POSIX::_exit(126);
  open(STDOUT, '>&', $out + 0) or POSIX::_exit(126);
  open(STDERR, '>&', $err + 0) or POSIX::_exit(126);
  POSIX::close($out + 0);
  POSIX::close($err + 0);
  exec { $cmd[0] } @cmd;
  POSIX::_exit(127);
}
POSIX::close($out + 0);
POSIX::close($err + 0);
waitpid($child, 0);
my $st = $?;
if ($st != 0) { print "create_failed ", ($st >> 8), " ", ($st & 127), "\n"; exit 1; }
open(my $fh, '<', $pidfile) or do { print "create_failed 125 0 no pid file\n"; exit 1 };
my $init = <$fh>;
close($fh);
$init = defined $init ? $init + 0 : 0;
print "created $init\n";
while (1) {
  my $p = waitpid(-1, 0);
  if ($p == -1) { print "exited -1 0\n"; exit 0; }
  if ($p == $init) { my $s = $?; print "exited ", ($s >> 8), " ", ($s & 127), "\n"; exit 0; }
}
`;

/** prctl's syscall number on this architecture. @throws Error on an architecture we have not mapped. */
export function prctlSyscallNumber(arch: string = process.arch): number {
  if (arch === "x64") return 157;
  if (arch === "arm64") return 167;
  throw new Error(`no prctl syscall number known for architecture ${arch}`);
}
