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
  /** Node's process.arch of the traced host (syscall numbers differ); the running one by default. */
  readonly arch?: string;
}

/**
 * Syscall numbers of the native 64-bit ABIs (arch/x86/entry/syscalls/syscall_64.tbl and the
 * generic table arm64 uses). 32-bit ABIs are refused by the sandbox's seccomp profile (v2).
 */
const SYSCALL_NUMBERS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  x64: {
    open: 2,
    openat: 257,
    openat2: 437,
    creat: 85,
    mmap: 9,
    close: 3,
    dup2: 33,
    dup3: 292,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    pidfd_getfd: 438,
    open_tree: 428,
    fsopen: 430,
    fsmount: 432,
    fspick: 433,
    move_mount: 429,
    process_vm_readv: 310,
  },
  arm64: {
    openat: 56,
    openat2: 437,
    mmap: 222,
    close: 57,
    dup3: 24,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    pidfd_getfd: 438,
    open_tree: 428,
    fsopen: 430,
    fsmount: 432,
    fspick: 433,
    move_mount: 429,
    process_vm_readv: 270,
  },
};

/** The syscall numbers of an architecture. @throws Error for an architecture without a table. */
export function syscallNumbers(arch: string): Readonly<Record<string, number>> {
  const table = SYSCALL_NUMBERS[arch];
  if (table === undefined) throw new Error(`no syscall table for architecture ${arch}: the tracer supports ${Object.keys(SYSCALL_NUMBERS).join(", ")}`);
  return table;
}

/** The untraced-channel syscall a number names on an architecture, if any. */
export function channelName(arch: string, nr: number): string | undefined {
  const table = syscallNumbers(arch);
  return UNTRACED_CHANNELS.find((name) => table[name] === nr);
}

/** Access codes in the @use key. */
export const ACCESS_CODES = { open: 1, exec: 2, mmap_exec: 3 } as const;

/** Syscalls that obtain file access outside the probes (counted in @chan by number and outcome); a success makes a trace incomplete. */
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

/** Printed by END once every map was printed: the output up to it is the whole trace. */
export const MAPS_DONE = "VEXXY_MAPS_DONE";

/** The maps END prints (only maps the script writes: printing an unknown map is an error). */
function printedMaps(scope: ScriptScope, withChannels: boolean): string[] {
  return [
    "@t0",
    "@use",
    "@first",
    "@fpid",
    "@name",
    "@cgw",
    "@deep",
    ...(withChannels ? ["@chan"] : []),
    ...(scope.relativePath !== undefined ? ["@left"] : []),
  ];
}

/** The v2 hierarchy's id in cgroup_attach_task (v1 hierarchies are numbered from 1). */
const V2_HIERARCHY = 0;

const DEFAULT_DEPTH = 16;

/** Builds the script. @throws Error for a scope no script can express. */
export function bpftraceScript(scope: ScriptScope, availableChannels: readonly string[] = UNTRACED_CHANNELS): string {
  const depth = scope.depth ?? DEFAULT_DEPTH;
  if (scope.cgroupId <= 0n) throw new Error(`cgroup id ${scope.cgroupId} is not a cgroup v2 id`);
  if (!Number.isInteger(scope.level) || scope.level < 0 || scope.level > 1000) throw new Error(`cgroup level ${scope.level} is out of range`);
  if (!Number.isInteger(depth) || depth < 1 || depth > 64) throw new Error(`depth ${depth} is out of range (1..64)`);
  if (scope.relativePath !== undefined && !/^(\/[A-Za-z0-9._-]+)+$/.test(scope.relativePath))
    throw new Error(`cgroup path ${JSON.stringify(scope.relativePath)} cannot be written into a script`);
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
  const nr = syscallNumbers(scope.arch ?? process.arch);
  const anyOf = (names: readonly string[]): string =>
    names
      .map((n) => nr[n])
      .filter((n): n is number => n !== undefined)
      .map((n) => `$id == ${n}`)
      .join(" || ");
  const opens = anyOf(["open", "openat", "openat2", "creat"]);
  const channels = anyOf(availableChannels);
  // Every regular file whose fd is closed or replaced (close, dup2/dup3 onto it) is recorded as
  // opened if it was not yet: another thread can swap the fd slot between an open's return and
  // its exit probe (or the fd was inherited); whatever it swapped out passes through here.
  const fileAt = (fd: string): string[] => [
    `    $fdt = ((struct task_struct *)curtask)->files->fdt;`,
    `    if ((uint64)${fd} < (uint64)$fdt->max_fds) {`,
    `      $f = (struct file *)*($fdt->fd + ${fd});`,
  ];
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
    // One probe for every syscall exit of interest (each attach point costs attach and detach
    // time: syscall tracepoints are faultable, their BPF links wait for an RCU tasks-trace grace
    // period), the syscall told apart by number.
    [
      // bpftrace 0.17 miscompiles several reads of a raw tracepoint's args in one predicate
      // ("dereference of modified ctx ptr"): read each field once into a variable.
      `tracepoint:raw_syscalls:sys_exit {`,
      `  $id = args->id; $ret = args->ret;`,
      `  if (${channels !== "" ? `${channels} || ` : ""}($ret >= 0 && @live == 1 && (${opens}))) {`,
      inScope.replace(/^/gm, "  "),
      `  if ($in == 1) {`,
      `    if (${opens}) {`,
      `      $f = (struct file *)*(((struct task_struct *)curtask)->files->fdt->fd + $ret);`,
      record(ACCESS_CODES.open, `str($f->f_path.dentry->d_name.name)`).replace(/^/gm, "  "),
      // A process of the scope that opened a cgroup2 file may move itself: by the time
      // cgroup_attach_task fires it is already elsewhere, so remember it here.
      `      if ($f != 0 && $f->f_inode->i_sb->s_magic == ${CGROUP2_SUPER_MAGIC}) { @cgw[pid] = 1; }`,
      `    } else {`,
      `      @chan[$id, $ret >= 0 ? 1 : 0] = count();`,
      `    }`,
      `  }`,
      `  }`,
      `}`,
    ].join("\n"),
    [
      `tracepoint:raw_syscalls:sys_enter /@live == 1/ {`,
      `  $id = args->id;`,
      `  if (${anyOf(["mmap", "close", "dup2", "dup3"])}) {`,
      `  $a1 = args->args[1]; $a2 = args->args[2]; $a0 = args->args[0]; $a4 = args->args[4];`,
      inScope,
      `  if ($in == 1) {`,
      `    if ($id == ${nr["mmap"]}) {`,
      // fd is unsigned: an anonymous mapping's -1 is far above max_fds and is skipped.
      `      if (($a2 & 4) != 0) {`,
      ...fileAt("$a4").map((l) => `    ${l}`),
      record(ACCESS_CODES.mmap_exec, `str($f->f_path.dentry->d_name.name)`).replace(/^/gm, "      "),
      `        }`,
      `      }`,
      `    } else {`,
      `      $fd = $id == ${nr["close"]} ? $a0 : $a1;`,
      ...fileAt("$fd").map((l) => `  ${l}`),
      `        if ($f != 0 && ($f->f_inode->i_mode & 0xf000) == 0x8000) {`,
      `          $d = (uint64)$f->f_inode->i_sb->s_dev; $i = (uint64)$f->f_inode->i_ino;`,
      `          if (@first[${ACCESS_CODES.open}, $d, $i] == 0) { @use[${ACCESS_CODES.open}, $d, $i] = count(); @first[${ACCESS_CODES.open}, $d, $i] = nsecs; @fpid[${ACCESS_CODES.open}, $d, $i] = pid; @name[${ACCESS_CODES.open}, $d, $i] = str($f->f_path.dentry->d_name.name); }`,
      `        }`,
      `      }`,
      `    }`,
      `  }`,
      `  }`,
      `}`,
    ].join("\n"),
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
    // The maps are printed here, in END, before bpftrace detaches its probes: its own print at
    // exit comes after the detach, which on this kernel can take tens of seconds under load
    // (faultable syscall tracepoints wait for an RCU tasks-trace grace period per BPF link).
    `END { ${[...printedMaps(scope, channels !== "").map((m) => `print(${m});`), `printf("${MAPS_DONE}\\n");`, "clear(@live);"].join(" ")} }`,
    "",
  ].join("\n");
}
