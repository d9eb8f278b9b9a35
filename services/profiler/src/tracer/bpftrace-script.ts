/**
 * The bpftrace program for one sandbox. Tracepoints only (this kernel has no kprobes, fentry or
 * BPF-LSM). Everything is aggregated in maps printed once at END (one printf per event cost 2.9x
 * the untraced run here, maps 1.05x).
 *
 * Evidence is the kernel's identity of the file object, never the name the workload asked for:
 * - opens (open, openat, openat2, creat) that returned an fd: the `struct file` installed at that
 *   fd, read from `curtask->files->fdt->fd` by pointer arithmetic (bpftrace 0.17's `[]` takes
 *   literal indices only), then `f_inode->i_sb->s_dev` and `f_inode->i_ino`. A symlink made at run
 *   time, /proc/self/root/..., /proc/self/fd/N, a hard link, a bind mount, a relative or long or
 *   non-ASCII name all end at the inode the kernel opened.
 * - execs: `curtask->mm->exe_file` at sched_process_exec, the binary the kernel really runs (for
 *   a "#!" script, its interpreter; the script itself is then opened by the interpreter). execveat
 *   by fd or with AT_EMPTY_PATH is covered the same way.
 * - executable file mappings: mmap with PROT_EXEC of an fd, the file behind the fd.
 * A use whose file object could not be read is recorded with identity (0, 0), which the
 * reachability service refuses to attribute (the trace becomes incomplete).
 *
 * Scope: the sandbox's cgroup and every cgroup below it. The fast path compares the task's
 * cgroup id; otherwise the task's cgroup is walked up (through `self.parent`) to the sandbox's
 * level and its id compared, so a workload that moves itself into a child cgroup (user + cgroup
 * namespace) stays traced. A task nested deeper than `depth` levels below that level cannot be
 * placed and counts in @deep (the trace is then incomplete).
 *
 * A task of the scope that moves a task to a cgroup outside the subtree (cgroup_attach_task on
 * the v2 hierarchy, destination neither the sandbox's cgroup nor below its path) counts in @left:
 * from then on that task is not traced, so the trace is incomplete. The tracepoint fires after
 * the move, when a task that moved itself is no longer in scope: processes of the scope that
 * opened a cgroup2 file are remembered by pid (@cgw) for that case.
 *
 * Channels that hand out file access the probes do not see (io_uring's IORING_OP_OPENAT,
 * open_by_handle_at, pidfd_getfd, new mount APIs, process_vm_readv) are counted in @chan by
 * outcome; a success makes the trace incomplete. The sandbox's seccomp profile denies them all.
 *
 * Nothing is recorded before the sandbox's first exec (@live), which drops runc init's own opens.
 * No helper map keyed by thread id is needed: everything is read at the syscall's exit.
 */

/** Where the sandbox's cgroup sits: its id and its depth below the cgroup v2 root. */
export interface ScriptScope {
  readonly cgroupId: bigint;
  /** cgroup->level of the sandbox's cgroup (the v2 root is level 0). */
  readonly level: number;
  /** How many levels below the sandbox's cgroup a task is still placed (unrolled walk). */
  readonly depth?: number;
  /** The cgroup's path from the v2 root ("/vexxy/<id>"), as cgroup_attach_task reports paths. */
  readonly relativePath?: string;
}

/** Access codes in the @use key. */
export const ACCESS_CODES = { open: 1, exec: 2, mmap_exec: 3 } as const;

/** Syscalls that obtain file access outside the probes; a success makes a trace incomplete. */
export const UNTRACED_CHANNELS = [
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "open_by_handle_at",
  "name_to_handle_at",
  "pidfd_getfd",
  "open_tree",
  "fsopen",
  "fsmount",
  "fspick",
  "move_mount",
  "process_vm_readv",
] as const;

/** The maps the script prints and the reader checks for capacity. */
export const IDENTITY_MAPS = ["@use", "@first", "@fpid", "@name", "@chan", "@cgw"] as const;

/** statfs magic of cgroup2 (include/uapi/linux/magic.h). */
const CGROUP2_SUPER_MAGIC = "0x63677270";

/** The v2 hierarchy's id in cgroup_attach_task (v1 hierarchies are numbered from 1). */
const V2_HIERARCHY = 0;

const DEFAULT_DEPTH = 16;

/** Builds the script. @throws Error for a scope no script can express. */
export function bpftraceScript(scope: ScriptScope, availableChannels: readonly string[] = UNTRACED_CHANNELS): string {
  const depth = scope.depth ?? DEFAULT_DEPTH;
  if (scope.cgroupId <= 0n) throw new Error(`cgroup id ${scope.cgroupId} is not a cgroup v2 id`);
  if (!Number.isInteger(scope.level) || scope.level < 0 || scope.level > 1000) throw new Error(`cgroup level ${scope.level} is out of range`);
  if (!Number.isInteger(depth) || depth < 1 || depth > 64) throw new Error(`depth ${depth} is out of range (1..64)`);
  if (scope.relativePath !== undefined && !/^(\/[A-Za-z0-9._-]+)+$/.test(scope.relativePath)) throw new Error(`cgroup path ${JSON.stringify(scope.relativePath)} cannot be written into a script`);
  const id = scope.cgroupId.toString();
  const level = String(scope.level);
  const inScope = [
    `  $in = cgroup == ${id} ? 1 : 0;`,
    `  if ($in == 0) {`,
    `    $c = ((struct task_struct *)curtask)->cgroups->dfl_cgrp;`,
    `    if ($c->level > ${level}) {`,
    `      unroll(${depth}) { if ($c->level > ${level}) { $c = (struct cgroup *)$c->self.parent; } }`,
    `      if ($c->level > ${level}) { @deep = count(); } else { if ($c->kn->id == ${id}) { $in = 1; } }`,
    `    }`,
    `  }`,
  ].join("\n");
  // Records one use of the file object $f (identity 0,0 when unreadable) with a label.
  const record = (code: number, label: string): string =>
    [
      `    $d = (uint64)0; $i = (uint64)0;`,
      `    if ($f != 0) { $d = (uint64)$f->f_inode->i_sb->s_dev; $i = (uint64)$f->f_inode->i_ino; }`,
      `    @use[${code}, $d, $i] = count();`,
      `    if (@first[${code}, $d, $i] == 0) { @first[${code}, $d, $i] = nsecs; @fpid[${code}, $d, $i] = pid; @name[${code}, $d, $i] = ${label}; }`,
    ].join("\n");
  const openExit = (sc: string): string =>
    [
      `tracepoint:syscalls:sys_exit_${sc} /args->ret >= 0 && @live == 1/ {`,
      inScope,
      `  if ($in == 1) {`,
      `    $f = (struct file *)*(((struct task_struct *)curtask)->files->fdt->fd + args->ret);`,
      record(ACCESS_CODES.open, `str($f->f_path.dentry->d_name.name)`),
      // A process of the scope that opened a cgroup2 file may move itself: by the time
      // cgroup_attach_task fires it is already elsewhere, so remember it here.
      `    if ($f != 0 && $f->f_inode->i_sb->s_magic == ${CGROUP2_SUPER_MAGIC}) { @cgw[pid] = 1; }`,
      `  }`,
      `}`,
    ].join("\n");
  const channel = (sc: string): string => {
    if (!(UNTRACED_CHANNELS as readonly string[]).includes(sc)) throw new Error(`${sc} is not an untraced channel`);
    return [
      `tracepoint:syscalls:sys_exit_${sc} {`,
      inScope,
      // Keyed by the syscall's index in UNTRACED_CHANNELS: string keys of different lengths misalign the stack.
      `  if ($in == 1) { @chan[${UNTRACED_CHANNELS.indexOf(sc as (typeof UNTRACED_CHANNELS)[number])}, args->ret >= 0 ? 1 : 0] = count(); }`,
      `}`,
    ].join("\n");
  };
  return [
    `BEGIN { @t0 = nsecs; printf("ATTACHED\\n"); }`,
    [
      `tracepoint:sched:sched_process_exec {`,
      inScope,
      `  if ($in == 1) {`,
      `    @live = 1;`,
      `    $f = ((struct task_struct *)curtask)->mm->exe_file;`,
      record(ACCESS_CODES.exec, `str(args->filename)`),
      `  }`,
      `}`,
    ].join("\n"),
    ...["open", "openat", "openat2", "creat"].map(openExit),
    // A regular file whose fd is closed or replaced (close, dup2/dup3 onto it) is recorded as
    // opened if it was not yet: another thread can swap the fd slot between an open's return
    // and its exit probe; whatever it swapped out passes through here.
    ...([["close", "fd"], ["dup2", "newfd"], ["dup3", "newfd"]] as const).map(([sc, arg]) =>
      [
        `tracepoint:syscalls:sys_enter_${sc} /@live == 1/ {`,
        inScope,
        `  if ($in == 1) {`,
        `    $fdt = ((struct task_struct *)curtask)->files->fdt;`,
        `    if ((uint64)args->${arg} < (uint64)$fdt->max_fds) {`,
        `      $f = (struct file *)*($fdt->fd + args->${arg});`,
        `      if ($f != 0 && ($f->f_inode->i_mode & 0xf000) == 0x8000) {`,
        `        $d = (uint64)$f->f_inode->i_sb->s_dev; $i = (uint64)$f->f_inode->i_ino;`,
        `        if (@first[${ACCESS_CODES.open}, $d, $i] == 0) { @use[${ACCESS_CODES.open}, $d, $i] = count(); @first[${ACCESS_CODES.open}, $d, $i] = nsecs; @fpid[${ACCESS_CODES.open}, $d, $i] = pid; @name[${ACCESS_CODES.open}, $d, $i] = str($f->f_path.dentry->d_name.name); }`,
        `      }`,
        `    }`,
        `  }`,
        `}`,
      ].join("\n"),
    ),
    [
      // fd is unsigned: an anonymous mapping's -1 is far above max_fds and is skipped.
      `tracepoint:syscalls:sys_enter_mmap /(args->prot & 4) != 0 && @live == 1/ {`,
      inScope,
      `  if ($in == 1) {`,
      `    $fdt = ((struct task_struct *)curtask)->files->fdt;`,
      `    if (args->fd < (uint64)$fdt->max_fds) {`,
      `      $f = (struct file *)*($fdt->fd + args->fd);`,
      record(ACCESS_CODES.mmap_exec, `str($f->f_path.dentry->d_name.name)`).replace(/^/gm, "  "),
      `    }`,
      `  }`,
      `}`,
    ].join("\n"),
    ...availableChannels.map(channel),
    ...(scope.relativePath !== undefined
      ? [
          [
            `tracepoint:cgroup:cgroup_attach_task /args->dst_root == ${V2_HIERARCHY} && args->dst_id != ${id}/ {`,
            inScope,
            `  if (@cgw[pid] == 1) { $in = 1; }`,
            `  if ($in == 1) {`,
            `    if (args->dst_level <= ${level}) { @left = count(); }`,
            `    else { if (strncmp(str(args->dst_path), "${scope.relativePath}/", ${scope.relativePath.length + 1}) != 0) { @left = count(); } }`,
            `  }`,
            `}`,
          ].join("\n"),
        ]
      : []),
    `END { clear(@live); }`,
    "",
  ].join("\n");
}
