import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { createBlobStore, type BlobInfo, type BlobStore } from "@vexxy/blobstore";
import { FailedPreconditionError, InvalidFieldError } from "@vexxy/platform";
import { create } from "@bufbuild/protobuf";
import { DownloadVexRequestSchema, VexArtifact, type DownloadVexResponse } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import type { IAnalysisJob } from "../src/store/entities.js";
import { INLINE_VEX_MAX_BYTES, MAX_VEX_CHUNK_BYTES, blobInfo, streamVex, vexTooLargeInline } from "../src/vex-download.js";

/** The fields of a job row streamVex reads (the rest of the row plays no part). */
function job(fields: { status?: string; vexDocument?: BlobInfo | null; vexBundle?: BlobInfo | null; vexPublicKey?: BlobInfo | null }): IAnalysisJob {
  return {
    id: "0b0e7a4e-0000-4000-8000-00000000d0d0",
    status: "COMPLETE",
    currentPhase: "complete",
    vexDocument: null,
    vexBundle: null,
    vexPublicKey: null,
    ...fields,
  } as unknown as IAnalysisJob;
}

async function collect(
  j: IAnalysisJob,
  init: { artifact?: VexArtifact; chunkSize?: number },
  blobs: BlobStore,
  signal = new AbortController().signal,
): Promise<DownloadVexResponse[]> {
  const out: DownloadVexResponse[] = [];
  for await (const m of streamVex(j, create(DownloadVexRequestSchema, { jobId: "x", ...init }), blobs, signal)) out.push(m);
  return out;
}

describe("DownloadVex: a job's VEX streamed in chunks from object storage (filesystem blob store)", () => {
  let dir: TempDir;
  let blobs: BlobStore;
  let big: Buffer;
  let document: BlobInfo;
  let bundle: BlobInfo;
  let key: BlobInfo;

  before(async () => {
    dir = await tempDir("vex-download");
    blobs = createBlobStore(`file://${dir.path}`);
    big = randomBytes(2 * MAX_VEX_CHUNK_BYTES + 12345);
    document = await blobs.put("jobs/j/attempts/1/openvex.json", big);
    bundle = await blobs.put("jobs/j/attempts/1/openvex.sigstore.json", Buffer.from('{"bundle":true}\n'));
    key = await blobs.put("jobs/j/attempts/1/vex-signing.pub.pem", Buffer.from("-----BEGIN PUBLIC KEY-----\n"));
  });

  after(async () => {
    await dir?.remove();
  });

  it("streams the document in 1 MiB chunks, in order, the first with its total size, sha256 and content type", async () => {
    const msgs = await collect(job({ vexDocument: document, vexBundle: bundle, vexPublicKey: key }), {}, blobs);
    assert.deepEqual(
      msgs.map((m) => [Number(m.offset), m.data.length]),
      [
        [0, MAX_VEX_CHUNK_BYTES],
        [MAX_VEX_CHUNK_BYTES, MAX_VEX_CHUNK_BYTES],
        [2 * MAX_VEX_CHUNK_BYTES, 12345],
      ],
    );
    const [first, ...rest] = msgs;
    assert.deepEqual([first?.totalSize, first?.sha256, first?.contentType], [BigInt(big.length), document.sha256, "application/json"]);
    assert.ok(rest.every((m) => m.totalSize === 0n && m.sha256 === ""));
    const joined = Buffer.concat(msgs.map((m) => m.data));
    assert.equal(createHash("sha256").update(joined).digest("hex"), document.sha256);
  });

  it("honours a smaller chunk_size and streams the bundle and the public key with their content types", async () => {
    const j = job({ vexDocument: document, vexBundle: bundle, vexPublicKey: key });
    const small = await collect(j, { chunkSize: 1024 * 512 }, blobs);
    assert.equal(small.length, Math.ceil(big.length / (1024 * 512)));
    assert.ok(small.every((m) => m.data.length <= 1024 * 512));
    const b = await collect(j, { artifact: VexArtifact.BUNDLE }, blobs);
    assert.deepEqual([b.length, Buffer.from(b[0]?.data ?? []).toString(), b[0]?.contentType], [1, '{"bundle":true}\n', "application/json"]);
    const k = await collect(j, { artifact: VexArtifact.PUBLIC_KEY }, blobs);
    assert.equal(k[0]?.contentType, "application/x-pem-file");
  });

  it("refuses a chunk_size outside 1024..1048576 with InvalidArgument naming chunk_size", async () => {
    const j = job({ vexDocument: document, vexBundle: bundle, vexPublicKey: key });
    for (const chunkSize of [10, MAX_VEX_CHUNK_BYTES + 1]) {
      await assert.rejects(collect(j, { chunkSize }, blobs), (e: unknown) => e instanceof InvalidFieldError && e.field === "chunk_size");
    }
  });

  it("answers FailedPrecondition for a job that is not COMPLETE and for one with no VEX (a scan without findings)", async () => {
    await assert.rejects(
      collect(job({ status: "RUNNING", vexDocument: document }), {}, blobs),
      (e: unknown) => e instanceof FailedPreconditionError && /RUNNING/.test(e.message),
    );
    await assert.rejects(collect(job({}), {}, blobs), (e: unknown) => e instanceof FailedPreconditionError && /no signed VEX document/.test(e.message));
  });

  it("answers DataLoss when the stored document no longer matches its recorded sha256, or is gone", async () => {
    const altered = await blobs.put("jobs/j/attempts/1/altered.json", Buffer.from("original"));
    await blobs.put(altered.key, Buffer.from("changed!"));
    await assert.rejects(
      collect(job({ vexDocument: altered }), {}, blobs),
      (e: unknown) => e instanceof ConnectError && e.code === Code.DataLoss && /sha256/.test(e.message),
    );
    const gone: BlobInfo = { key: "jobs/j/attempts/1/never-written.json", sha256: "0".repeat(64), size: 1 };
    await assert.rejects(
      collect(job({ vexDocument: gone }), {}, blobs),
      (e: unknown) => e instanceof ConnectError && e.code === Code.DataLoss && /no longer in object storage/.test(e.message),
    );
  });

  it("stops streaming once the call is aborted", async () => {
    const abort = new AbortController();
    const msgs: DownloadVexResponse[] = [];
    for await (const m of streamVex(job({ vexDocument: document }), create(DownloadVexRequestSchema, { chunkSize: 1024 }), blobs, abort.signal)) {
      msgs.push(m);
      if (msgs.length === 3) abort.abort();
    }
    assert.equal(msgs.length, 3);
  });

  it("leaves documents inline up to 2 MiB together, and gives size and sha256 as the API's VexBlobInfo", () => {
    const ref = (size: number): BlobInfo => ({ key: "k", sha256: "a".repeat(64), size });
    assert.equal(vexTooLargeInline(ref(INLINE_VEX_MAX_BYTES - 100), ref(100)), false);
    assert.equal(vexTooLargeInline(ref(INLINE_VEX_MAX_BYTES - 100), ref(101)), true);
    const info = blobInfo(ref(42));
    assert.deepEqual([info.size, info.sha256], [42n, "a".repeat(64)]);
  });
});
