/**
 * Client side of DownloadVex: streams one VEX artifact of a job into a file, chunk by chunk
 * (a large OpenVEX does not fit in one gRPC message), and checks the total size and sha256 the
 * first message announced before the file is renamed into place.
 */
import { createHash } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import type { Client } from "@connectrpc/connect";
import type { AnalysisService, VexArtifact } from "@vexxy/proto";

/** The downloaded artifact did not match what the server announced. */
export class VexDownloadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VexDownloadError";
  }
}

/** What was written. */
export interface DownloadedVex {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * Streams artifact of jobId into path (written to path.part first, then renamed).
 * @throws VexDownloadError when a chunk is out of order or the size or sha256 differs from
 *   the first message's; ConnectError from the server (NotFound, FailedPrecondition, DataLoss).
 */
export async function downloadVexTo(client: Client<typeof AnalysisService>, jobId: string, artifact: VexArtifact, path: string): Promise<DownloadedVex> {
  const part = `${path}.part`;
  const file = await open(part, "w", 0o644);
  const hash = createHash("sha256");
  let size = 0;
  let expected: { size: number; sha256: string } | undefined;
  try {
    for await (const msg of client.downloadVex({ jobId, artifact })) {
      if (expected === undefined) expected = { size: Number(msg.totalSize), sha256: msg.sha256 };
      if (Number(msg.offset) !== size) throw new VexDownloadError(`${path}: chunk at offset ${msg.offset}, expected ${size}`);
      hash.update(msg.data);
      await file.write(msg.data);
      size += msg.data.length;
    }
    await file.close();
    const sha256 = hash.digest("hex");
    if (expected === undefined) throw new VexDownloadError(`${path}: the server sent nothing`);
    if (size !== expected.size || sha256 !== expected.sha256) {
      throw new VexDownloadError(
        `${path}: received ${size} bytes with sha256 ${sha256}, the server announced ${expected.size} bytes with sha256 ${expected.sha256}`,
      );
    }
    await rename(part, path);
    return { path, size, sha256 };
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
}
