/**
 * The one behaviour contract every BlobStore must meet, run against each implementation by
 * blob-store.test.ts. `tamper` changes stored bytes behind the store's back (as a corrupted
 * disk or a hostile operator would).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BlobDigestMismatchError, BlobNotFoundError, InvalidBlobKeyError, type BlobStore } from "@vexxy/blobstore";

export interface ContractHarness {
  readonly store: BlobStore;
  tamper(key: string, bytes: Uint8Array): Promise<void>;
}

export const HOSTILE_KEYS: readonly string[] = [
  "../escape",
  "jobs/../../escape",
  "/etc/passwd",
  "jobs//double-slash",
  "jobs/./dot",
  "jobs/..",
  ".incoming/x",
  "jobs/trailing/",
  "",
  "jobs/with space",
  "jobs\\backslash",
  "jobs/%2e%2e/encoded",
  "jobs/ünïcode",
  "jobs/nul\u0000byte",
  "x".repeat(1025),
];

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Registers the contract tests for one store; `harness` is called in before(). */
export function blobStoreContract(name: string, harness: () => ContractHarness): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let tamper: ContractHarness["tamper"];
    before(() => {
      ({ store, tamper } = harness());
    });

    it("returns the stored bytes with their sha256 and size", async () => {
      const body = Buffer.from("catalogue bytes \u00e9\n");
      const info = await store.put("jobs/j1/catalogue.bin", body, { contentType: "application/octet-stream" });
      assert.deepEqual(info, { key: "jobs/j1/catalogue.bin", sha256: sha256(body), size: body.byteLength });
      assert.deepEqual(await store.get("jobs/j1/catalogue.bin"), body);
      assert.deepEqual(await store.getVerified({ key: info.key, sha256: info.sha256 }), body);
    });

    it("stores an empty blob and a binary blob exactly", async () => {
      const empty = new Uint8Array(0);
      const binary = new Uint8Array(256).map((_, i) => i);
      assert.equal((await store.put("jobs/j1/empty", empty)).sha256, sha256(empty));
      const info = await store.put("jobs/j1/binary", binary.subarray(10, 200));
      assert.equal(info.size, 190);
      assert.deepEqual(await store.get("jobs/j1/binary"), Buffer.from(binary.subarray(10, 200)));
    });

    it("overwrites an existing key with the new bytes", async () => {
      await store.put("jobs/j2/vex.json", Buffer.from("old"));
      const info = await store.put("jobs/j2/vex.json", Buffer.from("new"));
      assert.equal(info.sha256, sha256(Buffer.from("new")));
      assert.equal((await store.get("jobs/j2/vex.json")).toString(), "new");
    });

    it("getVerified throws BlobDigestMismatchError when the object was changed in storage", async () => {
      const info = await store.put("jobs/j3/attempts/1/profile.bin", Buffer.from("genuine profile"));
      await tamper(info.key, Buffer.from("forged profile!"));
      await assert.rejects(store.getVerified(info), (error: unknown) => {
        assert.ok(error instanceof BlobDigestMismatchError);
        assert.equal(error.key, info.key);
        assert.equal(error.expected, info.sha256);
        assert.equal(error.actual, sha256(Buffer.from("forged profile!")));
        return true;
      });
    });

    it("getVerified throws BlobDigestMismatchError for an expected digest that is not lowercase hex", async () => {
      const info = await store.put("jobs/j3/upper", Buffer.from("x"));
      await assert.rejects(store.getVerified({ key: info.key, sha256: info.sha256.toUpperCase() }), BlobDigestMismatchError);
    });

    it("get and getVerified throw BlobNotFoundError for a missing key, exists says false", async () => {
      await assert.rejects(store.get("jobs/none/missing.bin"), BlobNotFoundError);
      await assert.rejects(store.getVerified({ key: "jobs/none/missing.bin", sha256: "0".repeat(64) }), BlobNotFoundError);
      assert.equal(await store.exists("jobs/none/missing.bin"), false);
    });

    it("treats a key that is only a prefix of other keys as missing", async () => {
      await store.put("jobs/j4/a/b", Buffer.from("b"));
      await assert.rejects(store.get("jobs/j4/a"), BlobNotFoundError);
      assert.equal(await store.exists("jobs/j4/a"), false);
    });

    it("refuses hostile keys with InvalidBlobKeyError in every operation", async () => {
      for (const key of HOSTILE_KEYS) {
        await assert.rejects(store.put(key, Buffer.from("x")), InvalidBlobKeyError, `put ${JSON.stringify(key)}`);
        await assert.rejects(store.get(key), InvalidBlobKeyError, `get ${JSON.stringify(key)}`);
        await assert.rejects(store.getVerified({ key, sha256: "0".repeat(64) }), InvalidBlobKeyError);
        await assert.rejects(store.exists(key), InvalidBlobKeyError, `exists ${JSON.stringify(key)}`);
        await assert.rejects(store.delete(key), InvalidBlobKeyError, `delete ${JSON.stringify(key)}`);
      }
      await assert.rejects(store.list("../"), InvalidBlobKeyError);
      await assert.rejects(store.list("/jobs"), InvalidBlobKeyError);
    });

    it("lists the keys under a prefix, sorted, and nothing else", async () => {
      for (const key of ["jobs/lst/b", "jobs/lst/a/2", "jobs/lst/a/1", "jobs/lst-other/x", "jobs/lsx"]) {
        await store.put(key, Buffer.from(key));
      }
      assert.deepEqual(await store.list("jobs/lst/"), ["jobs/lst/a/1", "jobs/lst/a/2", "jobs/lst/b"]);
      assert.deepEqual(await store.list("jobs/lst"), ["jobs/lst-other/x", "jobs/lst/a/1", "jobs/lst/a/2", "jobs/lst/b"]);
      assert.deepEqual(await store.list("jobs/lst/a/"), ["jobs/lst/a/1", "jobs/lst/a/2"]);
      assert.deepEqual(await store.list("jobs/nothing-here/"), []);
      const all = await store.list("");
      assert.ok(all.includes("jobs/lsx") && all.includes("jobs/lst/b"));
      assert.deepEqual(all, [...all].sort());
    });

    it("deletes a key, and deleting it again (or a never-stored key) is not an error", async () => {
      await store.put("jobs/del/x", Buffer.from("x"));
      assert.equal(await store.exists("jobs/del/x"), true);
      await store.delete("jobs/del/x");
      assert.equal(await store.exists("jobs/del/x"), false);
      await assert.rejects(store.get("jobs/del/x"), BlobNotFoundError);
      await store.delete("jobs/del/x");
      await store.delete("jobs/never/stored");
      assert.deepEqual(await store.list("jobs/del/"), []);
    });
  });
}
