import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobStoreConfigError, BlobStoreError, createBlobStore, FilesystemBlobStore, openBlobStore, parseBlobStoreUrl, S3BlobStore } from "@vexxy/blobstore";
import { startS3Server, tempDir } from "@vexxy/testkit";

describe("BLOB_STORE_URL parsing", () => {
  it("reads file:///abs/path as a filesystem store rooted there", () => {
    assert.deepEqual(parseBlobStoreUrl("file:///var/lib/vexxy/blobs"), { kind: "filesystem", rootDir: "/var/lib/vexxy/blobs" });
    assert.deepEqual(parseBlobStoreUrl("file:///var/lib/vexxy/blobs/"), { kind: "filesystem", rootDir: "/var/lib/vexxy/blobs" });
  });

  it("reads s3://KEY:SECRET@host:port/bucket?ssl=false&region=… into client options", () => {
    assert.deepEqual(parseBlobStoreUrl("s3://AKIA:s%2Fe%40cret@minio.internal:9000/evidence?ssl=false&region=eu-west-1"), {
      kind: "s3",
      options: { endPoint: "minio.internal", port: 9000, useSSL: false, accessKey: "AKIA", secretKey: "s/e@cret", bucket: "evidence", region: "eu-west-1" },
    });
  });

  it("defaults s3 to TLS on port 443, and to port 80 with ssl=false", () => {
    const tls = parseBlobStoreUrl("s3://k:s@s3.example.com/evidence");
    assert.equal(tls.kind, "s3");
    assert.equal(tls.kind === "s3" && tls.options.useSSL, true);
    assert.equal(tls.kind === "s3" && tls.options.port, 443);
    const plain = parseBlobStoreUrl("s3://k:s@s3.example.com/evidence?ssl=false");
    assert.equal(plain.kind === "s3" && plain.options.port, 80);
    assert.equal(plain.kind === "s3" && plain.options.region, undefined);
  });

  const bad: readonly [string, RegExp][] = [
    ["not a url", /not a URL/],
    ["http://example.com/blobs", /scheme "http:" is not supported/],
    ["file://host/path", /no host/],
    ["file:///", /other than \//],
    ["s3://127.0.0.1:9000/bucket", /must carry credentials/],
    ["s3://k:s@127.0.0.1:9000", /exactly the bucket name/],
    ["s3://k:s@127.0.0.1:9000/a/b", /exactly the bucket name/],
    ["s3://k:s@127.0.0.1:9000/Bad_Bucket", /not a valid bucket name/],
    ["s3://k:s@127.0.0.1:9000/bucket?ssl=maybe", /ssl parameter must be true or false/],
    ["s3://k:s@127.0.0.1:9000/bucket?sssl=false", /unknown parameter "sssl"/],
    ["s3://k:s@127.0.0.1:9000/bucket?region=EU%20West", /region parameter/],
  ];
  for (const [url, reason] of bad) {
    it(`rejects ${JSON.stringify(url)} with BlobStoreConfigError naming BLOB_STORE_URL`, () => {
      assert.throws(
        () => parseBlobStoreUrl(url),
        (error: unknown) => {
          assert.ok(error instanceof BlobStoreConfigError);
          assert.match(error.message, /BLOB_STORE_URL/);
          assert.match(error.message, reason);
          return true;
        },
      );
    });
  }

  it("never echoes the secret key in its error", () => {
    assert.throws(
      () => parseBlobStoreUrl("s3://k:topsecret@127.0.0.1:9000/bucket?ssl=nope"),
      (error: unknown) => {
        assert.ok(error instanceof BlobStoreConfigError);
        assert.doesNotMatch(error.message, /topsecret/);
        return true;
      },
    );
  });
});

describe("createBlobStore and openBlobStore", () => {
  it("builds a working filesystem store from a file URL", async () => {
    const dir = await tempDir("blobstore-url");
    try {
      const store = createBlobStore(`file://${join(dir.path, "blobs")}`);
      assert.ok(store instanceof FilesystemBlobStore);
      const info = await store.put("jobs/u/x", Buffer.from("x"));
      assert.deepEqual(await store.getVerified(info), Buffer.from("x"));
    } finally {
      await dir.remove();
    }
  });

  it("builds an S3 store from an s3 URL without touching the network until first use", () => {
    const store = createBlobStore("s3://k:s@127.0.0.1:1/lazy?ssl=false");
    assert.ok(store instanceof S3BlobStore);
    assert.equal(store.retention.state, "pending");
  });

  it("openBlobStore fails at once with BlobStoreError when the S3 server is unreachable", async () => {
    await assert.rejects(openBlobStore("s3://k:s@127.0.0.1:1/lazy?ssl=false", { logger: { warn: () => undefined } }), BlobStoreError);
  });

  it("openBlobStore returns a ready S3 store from an s3 URL (s3rver; signatures unchecked)", async () => {
    const server = await startS3Server({ bucket: "from-url" });
    try {
      const store = await openBlobStore(server.url, { logger: { warn: () => undefined } });
      assert.ok(store instanceof S3BlobStore);
      assert.equal(store.bucket, "from-url");
      assert.equal(store.retention.state, "unsupported");
      const info = await store.put("jobs/u/y", Buffer.from("y"));
      assert.deepEqual(await store.getVerified(info), Buffer.from("y"));
    } finally {
      await server.stop();
    }
  });
});
