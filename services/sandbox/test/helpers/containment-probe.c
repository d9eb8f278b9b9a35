/* Hostile workload for the containment suite: tries one forbidden thing per line and prints
 * "<probe> <ret> <errno>" so the test sees exactly what the sandbox let through. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long ret) {
  printf("%s %ld %s\n", name, ret, ret < 0 ? strerrorname_np(errno) : "OK");
  fflush(stdout);
}

int main(void) {
  char buf[256];
  report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -4 /* USER */, 0));
  report("add_key", syscall(SYS_add_key, "user", "vexxy-probe", "secret", 6, -4));
  report("request_key", syscall(SYS_request_key, "user", "vexxy-probe", NULL, 0));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("io_uring_setup", syscall(SYS_io_uring_setup, 8, buf));
  report("io_uring_enter", syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0));
  report("io_uring_register", syscall(SYS_io_uring_register, 0, 0, NULL, 0));
  report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
  report("unshare_cgroup", syscall(SYS_unshare, CLONE_NEWCGROUP));
  report("unshare_ns", syscall(SYS_unshare, CLONE_NEWNS));
  long c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (c == 0) _exit(0);
  if (c > 0) waitpid(c, NULL, 0);
  report("clone_newuser", c);
  report("clone3", syscall(SYS_clone3, NULL, 0));
  report("setns", syscall(SYS_setns, 0, 0));
  report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
  report("umount2", syscall(SYS_umount2, "/tmp", 0));
  report("pivot_root", syscall(SYS_pivot_root, "/", "/"));
  report("chroot", syscall(SYS_chroot, "/"));
  report("perf_event_open", syscall(SYS_perf_event_open, buf, 0, -1, -1, 0));
  report("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", buf, buf, 0));
  report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, buf, 0));
  report("bpf", syscall(SYS_bpf, 0, buf, 0));
  report("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/", 0));
  report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  report("fsconfig", syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
  report("fsmount", syscall(SYS_fsmount, -1, 0, 0));
  report("fspick", syscall(SYS_fspick, AT_FDCWD, "/", 0));
  report("move_mount", syscall(SYS_move_mount, -1, "", AT_FDCWD, "/tmp", 0));
  report("mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("ptrace", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
  report("process_vm_readv", syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0));
  report("socket_vsock", syscall(SYS_socket, 40, SOCK_STREAM, 0));
  report("personality_exec", syscall(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */));
  /* controls: ordinary calls the profile must let through */
  report("control_socket_unix", syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0));
  pid_t f = fork();
  if (f == 0) _exit(0);
  if (f > 0) waitpid(f, NULL, 0);
  report("control_fork", f);
  report("control_getpid", syscall(SYS_getpid));
  report("control_personality_query", syscall(SYS_personality, 0xffffffff));
  return 0;
}
