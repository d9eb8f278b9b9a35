/**
 * A workload's stdout or stderr as the driver keeps it: the first half of the cap and a ring of
 * the last half, so a flood costs bounded memory and no host disk. Everything is counted.
 */

/** Keeps at most `capBytes` of a stream (head + tail), counting what it dropped. */
export class BoundedOutput {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private ring: Buffer[] = [];
  private ringBytes = 0;
  /** Every byte the stream delivered. */
  totalBytes = 0;

  /** @param capBytes bytes kept in all (at least 2). */
  constructor(readonly capBytes: number) {}

  /** Whether bytes were dropped. */
  get truncated(): boolean {
    return this.totalBytes > this.headBytes + this.ringBytes;
  }

  /** Adds a chunk. Never throws. */
  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    const headCap = Math.floor(this.capBytes / 2);
    if (this.headBytes < headCap) {
      const take = chunk.subarray(0, headCap - this.headBytes);
      this.head.push(Buffer.from(take));
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    const ringCap = this.capBytes - headCap;
    const keep = chunk.length > ringCap ? chunk.subarray(chunk.length - ringCap) : chunk;
    this.ring.push(Buffer.from(keep));
    this.ringBytes += keep.length;
    while (this.ringBytes > ringCap && this.ring.length > 0) {
      const first = this.ring[0]!;
      const excess = this.ringBytes - ringCap;
      if (first.length <= excess) {
        this.ring.shift();
        this.ringBytes -= first.length;
      } else {
        this.ring[0] = first.subarray(excess);
        this.ringBytes -= excess;
      }
    }
  }

  /** Reads a stream to its end into this buffer; resolves at end or error (never rejects). */
  drain(stream: NodeJS.ReadableStream): Promise<void> {
    return new Promise((resolve) => {
      stream.on("data", (chunk: Buffer | string) => this.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", () => resolve());
    });
  }

  /** The last `bytes` bytes kept, as UTF-8 (a leading marker when bytes were dropped before them). */
  tail(bytes: number): string {
    const all = Buffer.concat([...this.head, ...this.ring]);
    const text = all.subarray(Math.max(0, all.length - bytes)).toString("utf8");
    return this.truncated ? `[${this.totalBytes - this.headBytes - this.ringBytes} bytes dropped]\n${text}` : text;
  }
}
