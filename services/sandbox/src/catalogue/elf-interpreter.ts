/**
 * What the kernel makes of a file's first bytes: the PT_INTERP of an ELF executable or shared
 * object (32/64-bit, either byte order; headers only are read), the `#!` line of a script
 * (whatever the interpreter: `#!/bin/sed -f` gives /bin/sed), and the file's kind. An executed
 * binary's interpreter counts as used: the kernel maps it without an open.
 */
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

const PT_INTERP = 3;
const ET_EXEC = 2;
const ET_DYN = 3;

/** The kind of a catalogued file, as CataloguedFile.kind spells it. */
export type FileKind = "elf_executable" | "elf_shared_object" | "script" | "python_bytecode" | "other";

/** A file's kind and the interpreter it asks the kernel for (undefined when none). */
export interface FileInspection {
  readonly kind: FileKind;
  readonly interpreter: string | undefined;
}

/**
 * Inspects an open file (read only at the offsets its headers name). `name` is the file's base
 * name, used only to recognise Python byte-code. Never throws for short or malformed files.
 */
export async function inspectOpenFile(fh: FileHandle, name: string): Promise<FileInspection> {
  const head = Buffer.alloc(64);
  const { bytesRead } = await fh.read(head, 0, 64, 0);
  if (bytesRead >= 2 && head[0] === 0x23 && head[1] === 0x21) {
    const line = Buffer.alloc(256);
    const n = (await fh.read(line, 0, 256, 2)).bytesRead;
    const first = line.subarray(0, n).toString("utf8").split("\n")[0]?.trim() ?? "";
    const interp = first.split(/\s+/)[0] ?? "";
    return { kind: "script", interpreter: interp === "" ? undefined : interp };
  }
  if (name.endsWith(".pyc")) return { kind: "python_bytecode", interpreter: undefined };
  if (bytesRead < 52 || head.readUInt32BE(0) !== 0x7f454c46) return { kind: "other", interpreter: undefined };
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const type = u16(head, 16);
  if (type !== ET_EXEC && type !== ET_DYN) return { kind: "other", interpreter: undefined };
  let interpreter: string | undefined;
  const phoff = is64 ? u64(head, 32) : u32(head, 28);
  const phentsize = u16(head, is64 ? 54 : 42);
  const phnum = u16(head, is64 ? 56 : 44);
  if (phnum > 0 && phnum <= 512 && phentsize >= (is64 ? 56 : 32)) {
    const table = Buffer.alloc(phentsize * phnum);
    const got = (await fh.read(table, 0, table.length, phoff)).bytesRead;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (o + phentsize > got) break;
      if (u32(table, o) !== PT_INTERP) continue;
      const offset = is64 ? u64(table, o + 8) : u32(table, o + 4);
      const size = is64 ? u64(table, o + 32) : u32(table, o + 16);
      if (size <= 0 || size > 4096) break;
      const buf = Buffer.alloc(size);
      const r = (await fh.read(buf, 0, size, offset)).bytesRead;
      interpreter = buf.subarray(0, r).toString("utf8").replace(/\0.*$/s, "");
      break;
    }
  }
  // A PIE is ET_DYN with an interpreter; a shared object is ET_DYN without one, or named *.so[.N]
  // (libc.so.6 carries a PT_INTERP so it can be run, yet it is loaded as a library).
  const library = /\.so(\.[0-9][^/]*)?$/.test(name);
  const kind: FileKind = type === ET_EXEC || (interpreter !== undefined && !library) ? "elf_executable" : "elf_shared_object";
  return { kind, interpreter: interpreter === "" ? undefined : interpreter };
}

/**
 * The interpreter of the regular file at a host path (opened with O_NOFOLLOW, so a symlink is
 * not followed), or undefined when it has none or is not a regular file.
 */
export async function interpreterOf(path: string): Promise<string | undefined> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    return (await inspectOpenFile(fh, path.slice(path.lastIndexOf("/") + 1))).interpreter;
  } finally {
    await fh.close();
  }
}
