import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import assert from "node:assert/strict";
import { Client } from "minio";
import { BlobStoreConfigError, BlobStoreError, FilesystemBlobStore, S3BlobStore, type BlobStoreLogger } from "@vexxy/blobstore";
import { startS3Server, tempDir, type S3Server, type TempDir } from "@vexxy/testkit";
import { blobStoreContract, HOSTILE_KEYS } from "./blob-store-contract.js";

describe("FilesystemBlobStore", () => {
  let dir: TempDir;
  let root: string;
  let store: FilesystemBlobStore;
  before(async () => {
    dir = await tempDir("blobstore-fs");
    root = join(dir.path, "store");
    store = new FilesystemBlobStore(root);
  });
  after(async () => {
    await dir.remove();
  });

  blobStoreContract("filesystem", () => ({
    store,
    async tamper(key, bytes) {
      await writeFile(join(root, ...key.split("/")), bytes);
    },
  }));

  describe("beyond the contract", () => {
    it("wrote nothing outside its root when given hostile keys", async () => {
      assert.deepEqual(await readdir(dir.path), ["store"]);
      assert.ok(HOSTILE_KEYS.length > 10);
    });

    it("leaves no temp file behind after writes", async () => {
      await store.put("jobs/tmp/a", Buffer.from("a"));
      assert.deepEqual(await readdir(join(root, ".incoming")), []);
      assert.ok(!(await store.list("")).some((key) => key.includes(".incoming")));
    });

    it("does not list a stray temp file left by a crash mid-write", async () => {
      await mkdir(join(root, ".incoming"), { recursive: true });
      await writeFile(join(root, ".incoming", "deadbeef.tmp"), "partial");
      assert.deepEqual(await store.list("jobs/tmp/"), ["jobs/tmp/a"]);
      assert.ok(!(await store.list("")).some((key) => key.startsWith(".")));
    });

    it("rejects a relative root with BlobStoreConfigError", () => {
      assert.throws(() => new FilesystemBlobStore("relative/blobs"), BlobStoreConfigError);
    });
  });
});

describe("S3BlobStore (against s3rver, which does not check signatures)", () => {
  const bucket = "vexxy-evidence";
  let server: S3Server;
  let store: S3BlobStore;
  let raw: Client;
  const warnings: { message: string; fields: Readonly<Record<string, unknown>> | undefined }[] = [];
  const logger: BlobStoreLogger = { warn: (message, fields) => warnings.push({ message, fields }) };

  before(async () => {
    server = await startS3Server();
    const connection = { endPoint: server.endPoint, port: server.port, useSSL: false, accessKey: server.accessKey, secretKey: server.secretKey };
    store = new S3BlobStore({ ...connection, bucket, logger });
    raw = new Client({ ...connection, region: "us-east-1", pathStyle: true });
    await store.ready();
  });
  after(async () => {
    await server.stop();
  });

  blobStoreContract("s3", () => ({
    store,
    async tamper(key, bytes) {
      // Overwrite through a plain client: same key, different bytes, no sha256 metadata.
      await raw.putObject(bucket, key, Buffer.from(bytes), bytes.byteLength);
    },
  }));

  describe("beyond the contract", () => {
    it("created its bucket", async () => {
      assert.equal(await raw.bucketExists(bucket), true);
    });

    it("stores each object's sha256 as x-amz-meta-sha256 user metadata", async () => {
      const info = await store.put("jobs/meta/x", Buffer.from("meta"), { contentType: "application/json" });
      const stat = await raw.statObject(bucket, "jobs/meta/x");
      assert.equal(stat.metaData["sha256"], info.sha256);
      assert.equal(stat.metaData["content-type"], "application/json");
    });

    it("records retention as unsupported and warns, because s3rver answers NotImplemented to the 90-day lifecycle rule", async () => {
      // s3rver 3.7 implements no bucket lifecycle API: PUT ?lifecycle answers 501 NotImplemented.
      await assert.rejects(raw.setBucketLifecycle(bucket, { Rule: [{ ID: "probe", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 1 } }] }), {
        code: "NotImplemented",
      });
      assert.equal(store.retention.state, "unsupported");
      assert.equal(store.retention.days, 90);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]?.message ?? "", /does not implement bucket lifecycle.*will NOT expire after 90 days/);
      assert.equal(warnings[0]?.fields?.["bucket"], bucket);
    });

    it("fails ready() with BlobStoreError when the server is unreachable", async () => {
      const unreachable = new S3BlobStore({ endPoint: "127.0.0.1", port: 1, useSSL: false, accessKey: "k", secretKey: "s", bucket, logger });
      await assert.rejects(unreachable.ready(), BlobStoreError);
      await assert.rejects(unreachable.get("jobs/x"), BlobStoreError);
    });
  });
});
