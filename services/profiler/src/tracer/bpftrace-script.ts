/**
 * The bpftrace program for one cgroup. Tracepoints only (this kernel has no kprobes, fentry or
 * BPF-LSM). Filenames are read at the syscall's exit from the pointer saved at entry (read at
 * entry, about 1 in 30 came back empty: the page was not faulted in yet), together with the
 * result. Everything is aggregated in maps (path,ok -> count) and printed once at END: one
 * printf per event costs 2.9x the untraced run here, maps 1.05x. Nothing is recorded before the
 * workload's first exec, which drops runc init's own opens.
 */

/** Builds the script for a cgroup v2 directory. @throws Error for a path bpftrace cannot quote. */
export function bpftraceScript(cgroupPath: string): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(cgroupPath)) throw new Error(`cgroup path not traceable: ${cgroupPath}`);
  const cg = `cgroup == cgroupid("${cgroupPath}")`;
  const openEnter = (sc: string, arg: string): string => `tracepoint:syscalls:sys_enter_${sc} /${cg} && @live == 1/ { @fn[tid] = args->${arg}; }`;
  const openExit = (sc: string): string =>
    `tracepoint:syscalls:sys_exit_${sc} /${cg} && @fn[tid] != 0/ { @open[str(@fn[tid]), args->ret >= 0 ? 1 : 0] = count(); delete(@fn[tid]); }`;
  return [
    `BEGIN { printf("ATTACHED\\n"); }`,
    `tracepoint:sched:sched_process_exec /${cg}/ { @live = 1; @exec[str(args->filename), 1] = count(); }`,
    openEnter("open", "filename"),
    openExit("open"),
    openEnter("creat", "pathname"),
    openExit("creat"),
    openEnter("openat", "filename"),
    openExit("openat"),
    openEnter("openat2", "filename"),
    openExit("openat2"),
    `tracepoint:syscalls:sys_enter_execve /${cg}/ { @efn[tid] = args->filename; }`,
    `tracepoint:syscalls:sys_exit_execve /${cg} && @efn[tid] != 0/ { @execve[str(@efn[tid]), args->ret >= 0 ? 1 : 0] = count(); delete(@efn[tid]); }`,
    `tracepoint:syscalls:sys_enter_execveat /${cg}/ { @efn[tid] = args->filename; }`,
    `tracepoint:syscalls:sys_exit_execveat /${cg} && @efn[tid] != 0/ { @execve[str(@efn[tid]), args->ret >= 0 ? 1 : 0] = count(); delete(@efn[tid]); }`,
    `END { clear(@fn); clear(@efn); clear(@live); }`,
    "",
  ].join("\n");
}

/** The maps the script prints, each "path,ok" -> count. */
export const COUNT_MAPS = ["@open", "@exec", "@execve"] as const;
