import { readFile, utimes, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import assert from "node:assert/strict";
import {
  BlobStoreConfigError,
  BlobTamperedError,
  FilesystemBlobStore,
  S3BlobStore,
  createBlobStore,
  generateBlobEncryptionKey,
  parseBlobEncryptionKey,
  sha256Hex,
  sweepExpiredEvidence,
} from "@vexxy/blobstore";
import { sealBlob } from "../src/blob-encryption.js";
import { startS3Server, tempDir, type S3Server, type TempDir } from "@vexxy/testkit";
import { blobStoreContract } from "./blob-store-contract.js";

describe("FilesystemBlobStore encrypted at rest (AES-256-GCM, BLOB_ENCRYPTION_KEY)", () => {
  let dir: TempDir;
  let root: string;
  const key = parseBlobEncryptionKey(generateBlobEncryptionKey());
  let store: FilesystemBlobStore;
  before(async () => {
    dir = await tempDir("blobstore-enc");
    root = join(dir.path, "store");
    store = new FilesystemBlobStore(root, { encryptionKey: key });
  });
  after(async () => {
    await dir.remove();
  });

  blobStoreContract("filesystem, encrypted", () => ({
    store,
    async tamper(k, bytes) {
      // Someone holding the key replaces the object: it authenticates, but its sha256 is not the recorded one.
      await writeFile(join(root, ...k.split("/")), sealBlob(key, k, bytes));
    },
  }));

  describe("beyond the contract", () => {
    it("round-trips bytes, reports the plaintext's sha256, and keeps no plaintext on disk", async () => {
      const plaintext = Buffer.from('{"statements":[{"vulnerability":"CVE-2024-0001"}]}');
      const info = await store.put("jobs/enc/openvex.json", plaintext);
      assert.equal(info.sha256, sha256Hex(plaintext));
      assert.equal(info.size, plaintext.length);
      const onDisk = await readFile(join(root, "jobs", "enc", "openvex.json"));
      assert.equal(onDisk.subarray(0, 4).toString(), "VXE1");
      assert.equal(onDisk.indexOf(Buffer.from("CVE-2024-0001")), -1);
      assert.deepEqual(await store.getVerified(info), plaintext);
      // A fresh nonce per object: the same bytes stored twice differ on disk.
      await store.put("jobs/enc/again.json", plaintext);
      assert.notDeepEqual(await readFile(join(root, "jobs", "enc", "again.json")), onDisk);
    });

    it("rejects tampered ciphertext, a file moved from another key and another key's store with BlobTamperedError", async () => {
      await store.put("jobs/enc/a.bin", Buffer.from("evidence a"));
      await store.put("jobs/enc/b.bin", Buffer.from("evidence b"));
      const path = join(root, "jobs", "enc", "a.bin");
      const stored = await readFile(path);
      const flipped = Buffer.from(stored);
      flipped[20] = (flipped[20] ?? 0) ^ 1;
      await writeFile(path, flipped);
      await assert.rejects(store.get("jobs/enc/a.bin"), BlobTamperedError);
      await writeFile(path, await readFile(join(root, "jobs", "enc", "b.bin")));
      await assert.rejects(store.get("jobs/enc/a.bin"), BlobTamperedError);
      await writeFile(path, Buffer.from("plaintext written behind the store's back"));
      await assert.rejects(store.get("jobs/enc/a.bin"), BlobTamperedError);
      const other = new FilesystemBlobStore(root, { encryptionKey: parseBlobEncryptionKey(generateBlobEncryptionKey()) });
      await assert.rejects(other.get("jobs/enc/b.bin"), BlobTamperedError);
    });

    it("takes the key from createBlobStore as hex or base64 and refuses a malformed one naming BLOB_ENCRYPTION_KEY", async () => {
      const hex = generateBlobEncryptionKey();
      const viaHex = createBlobStore(`file://${root}`, { encryptionKey: hex });
      const viaBase64 = createBlobStore(`file://${root}`, { encryptionKey: Buffer.from(hex, "hex").toString("base64") });
      const info = await viaHex.put("jobs/enc/c.bin", Buffer.from("c"));
      assert.deepEqual(await viaBase64.getVerified(info), Buffer.from("c"));
      assert.throws(
        () => createBlobStore(`file://${root}`, { encryptionKey: "abc" }),
        (e: unknown) => e instanceof BlobStoreConfigError && /BLOB_ENCRYPTION_KEY/.test(e.message),
      );
    });
  });
});

describe("evidence retention sweep of the filesystem store (EVIDENCE_RETENTION_DAYS)", () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir("blobstore-sweep");
  });
  after(async () => {
    await dir.remove();
  });

  it("deletes only evidence under jobs/ last written before the retention period", async () => {
    const root = join(dir.path, "store");
    const store = new FilesystemBlobStore(root);
    const now = new Date("2026-12-02T12:00:00Z");
    const age = async (k: string, days: number): Promise<void> => {
      await store.put(k, Buffer.from(k));
      const t = new Date(now.getTime() - days * 86_400_000);
      await utimes(join(root, ...k.split("/")), t, t);
    };
    await age("jobs/old/scan.json", 91);
    await age("jobs/old/attempts/1/trace.bin", 120);
    await age("jobs/edge/scan.json", 89);
    await age("jobs/new/scan.json", 1);
    await age("keys/signing.pem", 400);
    const removed = await sweepExpiredEvidence(store, 90, now);
    assert.deepEqual(removed, ["jobs/old/attempts/1/trace.bin", "jobs/old/scan.json"]);
    assert.deepEqual(await store.list(""), ["jobs/edge/scan.json", "jobs/new/scan.json", "keys/signing.pem"]);
  });
});

describe("S3BlobStore server-side encryption (s3rver behind a recording proxy)", () => {
  let server: S3Server;
  let proxy: Server;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  before(async () => {
    server = await startS3Server();
    proxy = createServer((req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      const upstream = request({ host: server.endPoint, port: server.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await server.stop();
  });

  it("asks for AES256 server-side encryption on every put (s3rver accepts the header but keeps its files unencrypted)", async () => {
    const port = (proxy.address() as AddressInfo).port;
    const store = new S3BlobStore({
      endPoint: "127.0.0.1",
      port,
      useSSL: false,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      bucket: "vexxy-sse",
      logger: { warn: () => undefined },
    });
    const info = await store.put("jobs/sse/vex.json", Buffer.from("{}"), { contentType: "application/json" });
    const puts = seen.filter((r) => r.method === "PUT" && r.url.includes("jobs/sse/vex.json"));
    assert.equal(puts.length, 1);
    assert.equal(puts[0]!.headers["x-amz-server-side-encryption"], "AES256");
    assert.deepEqual(await store.getVerified(info), Buffer.from("{}"));
  });
});
