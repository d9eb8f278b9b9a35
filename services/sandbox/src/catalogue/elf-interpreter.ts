/**
 * The interpreter a file asks the kernel for: the PT_INTERP of an ELF executable or shared
 * object (32/64-bit, either byte order; headers only are read), or the `#!` line of a script.
 * An executed binary's interpreter counts as used: the kernel maps it without an open.
 */
import { open } from "node:fs/promises";

const PT_INTERP = 3;

/** The interpreter path, or undefined when the file has none. */
export async function interpreterOf(path: string): Promise<string | undefined> {
  const fh = await open(path, "r").catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    if (bytesRead >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const line = Buffer.alloc(256);
      const n = (await fh.read(line, 0, 256, 2)).bytesRead;
      const first = line.subarray(0, n).toString("utf8").split("\n")[0]?.trim() ?? "";
      const interp = first.split(/\s+/)[0] ?? "";
      return interp.startsWith("/") ? interp : undefined;
    }
    if (bytesRead < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = is64 ? u64(head, 32) : u32(head, 28);
    const phentsize = u16(head, is64 ? 54 : 42);
    const phnum = u16(head, is64 ? 56 : 44);
    if (phnum === 0 || phnum > 512 || phentsize < (is64 ? 56 : 32)) return undefined;
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (u32(table, o) !== PT_INTERP) continue;
      const offset = is64 ? u64(table, o + 8) : u32(table, o + 4);
      const size = is64 ? u64(table, o + 32) : u32(table, o + 16);
      if (size <= 0 || size > 4096) return undefined;
      const name = Buffer.alloc(size);
      await fh.read(name, 0, size, offset);
      return name.toString("utf8").replace(/\0.*$/s, "");
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
