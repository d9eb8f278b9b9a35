import assert from "node:assert/strict";
import { create, toJsonString } from "@bufbuild/protobuf";
import { createBlobStore, type BlobStore } from "@vexxy/blobstore";
import { BlobRefSchema, ReachabilityScoredSchema, VerdictSchema, type BlobRef, type JobRef, type Verdict } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { VerdictsUnreadable, loadVerdicts } from "../src/events/scored-consumer.js";
import { sampleJob, sampleVerdicts } from "./helpers.js";

describe("vex: verdicts read from the blob a scored event names", () => {
  let dir: TempDir;
  let blobs: BlobStore;
  const job: JobRef = sampleJob({ jobId: "5b0f6a2e-2b7c-4e52-9d55-6f1a3c1f0a11" });

  before(async () => {
    dir = await tempDir("vex-verdicts-blob");
    blobs = createBlobStore(`file://${dir.path}`);
  });
  after(async () => {
    await dir?.remove();
  });

  async function store(verdicts: Verdict[], owner: JobRef = job, key = "v.json"): Promise<BlobRef> {
    const info = await blobs.put(key, Buffer.from(toJsonString(ReachabilityScoredSchema, create(ReachabilityScoredSchema, { job: owner, verdicts }))));
    return create(BlobRefSchema, { key: info.key, sha256: info.sha256, size: BigInt(info.size) });
  }

  function event(ref: BlobRef, verdictCount: number) {
    return create(ReachabilityScoredSchema, { job, verdictsBlob: ref, verdictCount });
  }

  async function rejectsWith(promise: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => error instanceof VerdictsUnreadable && error.reason === reason && message.test(error.message));
  }

  it("returns the blob's verdicts, in order, when its sha256 matches", async () => {
    const verdicts = sampleVerdicts();
    const got = await loadVerdicts(blobs, event(await store(verdicts), verdicts.length), job);
    assert.deepEqual(
      got.map((v) => `${v.vulnerabilityId}/${v.packageName}/${v.status}`),
      verdicts.map((v) => `${v.vulnerabilityId}/${v.packageName}/${v.status}`),
    );
  });

  it("reads 20,000 verdicts (an event could never hold them: ~560 bytes each past NATS's 1 MiB)", async () => {
    const base = sampleVerdicts()[0]!;
    const many = Array.from({ length: 20000 }, (_, i) => create(VerdictSchema, { ...base, vulnerabilityId: `CVE-FAKE-${i}` }));
    const ref = await store(many, job, "many.json");
    assert.ok(Number(ref.size) > 1024 * 1024);
    const got = await loadVerdicts(blobs, event(ref, many.length), job);
    assert.equal(got.length, 20000);
    assert.equal(got[17654]?.vulnerabilityId, "CVE-FAKE-17654");
  });

  it("refuses a blob that does not match its sha256 (input_altered) or is gone (input_missing)", async () => {
    const ref = await store(sampleVerdicts(), job, "altered.json");
    await blobs.put(ref.key, Buffer.from(toJsonString(ReachabilityScoredSchema, create(ReachabilityScoredSchema, { job, verdicts: [] }))));
    await rejectsWith(loadVerdicts(blobs, event(ref, 4), job), "input_altered", /altered\.json do not match their sha256/);
    const gone = create(BlobRefSchema, { key: "gone.json", sha256: "0".repeat(64) });
    await rejectsWith(loadVerdicts(blobs, event(gone, 4), job), "input_missing", /gone\.json are not in object storage/);
  });

  it("refuses a blob of another job or attempt, and one whose count differs from the event's", async () => {
    const other = await store(sampleVerdicts(), { ...job, attempt: 2 }, "other.json");
    await rejectsWith(loadVerdicts(blobs, event(other, 4), job), "input_altered", /belong to job .* attempt 2/);
    const short = await store(sampleVerdicts(), job, "short.json");
    await rejectsWith(loadVerdicts(blobs, event(short, 5), job), "input_altered", /hold 4 verdicts, the event announced 5/);
  });

  it("takes inline verdicts only from an event with no blob (a publisher from before blob-only events)", async () => {
    const legacy = create(ReachabilityScoredSchema, { job, verdicts: sampleVerdicts() });
    assert.equal((await loadVerdicts(blobs, legacy, job)).length, 4);
  });
});
