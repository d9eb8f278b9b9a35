import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { createBlobStore, type BlobInfo, type BlobStore } from "@vexxy/blobstore";
import { FailedPreconditionError, InvalidFieldError } from "@vexxy/platform";
import { DownloadVexRequestSchema, VexArtifact, VexFormat, type DownloadVexResponse } from "@vexxy/proto";
import { tempDir, type TempDir } from "@vexxy/testkit";
import type { IAnalysisJob, StoredVexDocument, StoredVexFormat } from "../src/store/entities.js";
import { streamVex } from "../src/vex-download.js";

/** The fields of a job row streamVex reads (the rest of the row plays no part). */
function job(fields: {
  vexFormats?: readonly StoredVexFormat[];
  vexDocument?: BlobInfo | null;
  vexBundle?: BlobInfo | null;
  vexPublicKey?: BlobInfo | null;
  vexDocuments?: StoredVexDocument[] | null;
}): IAnalysisJob {
  const { vexFormats, ...columns } = fields;
  return {
    id: "0b0e7a4e-0000-4000-8000-00000000d0d1",
    status: "COMPLETE",
    currentPhase: "complete",
    config: { ...(vexFormats !== undefined ? { vexFormats } : {}) },
    vexDocument: null,
    vexBundle: null,
    vexPublicKey: null,
    vexDocuments: null,
    ...columns,
  } as unknown as IAnalysisJob;
}

async function collect(j: IAnalysisJob, init: { artifact?: VexArtifact; format?: VexFormat }, blobs: BlobStore): Promise<DownloadVexResponse[]> {
  const out: DownloadVexResponse[] = [];
  for await (const m of streamVex(j, create(DownloadVexRequestSchema, { jobId: "x", chunkSize: 1024, ...init }), blobs, new AbortController().signal))
    out.push(m);
  return out;
}

const text = (msgs: readonly DownloadVexResponse[]): string => Buffer.concat(msgs.map((m) => m.data)).toString("utf8");

describe("DownloadVex format: the OpenVEX (default) or the CycloneDX VEX streamed (filesystem blob store)", () => {
  let dir: TempDir;
  let blobs: BlobStore;
  let both: IAnalysisJob;
  let cdxDocument: BlobInfo;
  let openVexOnly: IAnalysisJob;

  before(async () => {
    dir = await tempDir("vex-download-format");
    blobs = createBlobStore(`file://${dir.path}`);
    const openvex = await blobs.put(
      "jobs/j/attempts/1/openvex.json",
      Buffer.from(`{"@context":"https://openvex.dev/ns/v0.2.0","pad":"${"o".repeat(3000)}"}\n`),
    );
    const openvexBundle = await blobs.put("jobs/j/attempts/1/openvex.sigstore.json", Buffer.from('{"bundle":"openvex"}\n'));
    cdxDocument = await blobs.put("jobs/j/attempts/1/cyclonedx-vex.json", Buffer.from(`{"bomFormat":"CycloneDX","pad":"${"c".repeat(2500)}"}\n`));
    const cdxBundle = await blobs.put("jobs/j/attempts/1/cyclonedx-vex.sigstore.json", Buffer.from('{"bundle":"cyclonedx"}\n'));
    const sbom = await blobs.put("jobs/j/attempts/1/sbom.runtime.cdx.json", Buffer.from('{"bomFormat":"CycloneDX","sbom":true}\n'));
    const key = await blobs.put("jobs/j/attempts/1/vex-signing.pub.pem", Buffer.from("-----BEGIN PUBLIC KEY-----\n"));
    const documents: StoredVexDocument[] = [
      { format: "openvex", documentId: "https://vexxy.dev/vex/j/1", document: openvex, bundle: openvexBundle },
      { format: "cyclonedx", documentId: "urn:uuid:6ba7b811-9dad-51d1-80b4-00c04fd430c8", document: cdxDocument, bundle: cdxBundle, runtimeSbom: sbom },
    ];
    both = job({ vexFormats: ["openvex", "cyclonedx"], vexDocument: openvex, vexBundle: openvexBundle, vexPublicKey: key, vexDocuments: documents });
    openVexOnly = job({ vexDocument: openvex, vexBundle: openvexBundle, vexPublicKey: key, vexDocuments: documents.slice(0, 1) });
  });

  after(async () => {
    await dir?.remove();
  });

  it("streams the CycloneDX VEX and its bundle for format CYCLONEDX, the first chunk with the document's size and sha256", async () => {
    const doc = await collect(both, { format: VexFormat.CYCLONEDX }, blobs);
    assert.equal(doc.length, 3);
    assert.match(text(doc), /^\{"bomFormat":"CycloneDX"/);
    assert.deepEqual([doc[0]?.totalSize, doc[0]?.sha256, doc[0]?.contentType], [BigInt(cdxDocument.size), cdxDocument.sha256, "application/json"]);
    assert.equal(
      createHash("sha256")
        .update(Buffer.concat(doc.map((m) => m.data)))
        .digest("hex"),
      cdxDocument.sha256,
    );
    assert.equal(text(await collect(both, { format: VexFormat.CYCLONEDX, artifact: VexArtifact.BUNDLE }, blobs)), '{"bundle":"cyclonedx"}\n');
    // The public key verifies both formats' bundles: the same for either.
    assert.equal(text(await collect(both, { format: VexFormat.CYCLONEDX, artifact: VexArtifact.PUBLIC_KEY }, blobs)), "-----BEGIN PUBLIC KEY-----\n");
  });

  it("streams the OpenVEX document and bundle when format is unset or OPENVEX, as before the field existed", async () => {
    for (const format of [VexFormat.UNSPECIFIED, VexFormat.OPENVEX]) {
      assert.match(text(await collect(both, { format }, blobs)), /^\{"@context":"https:\/\/openvex.dev\/ns\/v0.2.0"/);
      assert.equal(text(await collect(both, { format, artifact: VexArtifact.BUNDLE }, blobs)), '{"bundle":"openvex"}\n');
    }
  });

  it("refuses a format outside VexFormat with InvalidArgument naming format", async () => {
    await assert.rejects(
      collect(both, { format: 7 as VexFormat }, blobs),
      (e: unknown) => e instanceof InvalidFieldError && e.field === "format" && e.code === Code.InvalidArgument && /format 7/.test(e.message),
    );
  });

  it("answers FailedPrecondition naming format for a job that did not ask for CycloneDX, and for one that has none although asked (no findings)", async () => {
    await assert.rejects(
      collect(openVexOnly, { format: VexFormat.CYCLONEDX }, blobs),
      (e: unknown) =>
        e instanceof FailedPreconditionError && e.code === Code.FailedPrecondition && /format CycloneDX.*not asked.*vex_formats: openvex/.test(e.message),
    );
    const noFindings = job({ vexFormats: ["cyclonedx"] });
    await assert.rejects(
      collect(noFindings, { format: VexFormat.CYCLONEDX, artifact: VexArtifact.BUNDLE }, blobs),
      (e: unknown) => e instanceof FailedPreconditionError && /no signed VEX CycloneDX bundle/.test(e.message),
    );
  });
});
