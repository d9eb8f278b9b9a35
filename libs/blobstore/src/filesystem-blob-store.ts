/**
 * The filesystem BlobStore, the embedded default: an object under key K is the file
 * `<rootDir>/K`. Writes are atomic (a temp file in `<rootDir>/.incoming`, fsync, rename over
 * the target, fsync of the directory), so a reader sees the old bytes or the new ones, never a
 * torn file, and a crash leaves at most a stray temp file. Keys are validated before they touch
 * a path (see validateBlobKey), which is what keeps every path inside rootDir; no key may start
 * a segment with ".", so `.incoming` can never collide with an object. With an encryption key
 * every object is sealed with AES-256-GCM (blob-encryption.ts); sha256 stays of the plaintext.
 * Objects do not expire by themselves: sweepExpiredBlobs (evidence-sweeper.ts) deletes old
 * evidence, as the S3 store's bucket lifecycle rule does. Unlike S3, a
 * key cannot be both an object and a "directory" of other keys (`a` and `a/b`): the second
 * write fails with BlobStoreError.
 */
import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, sep } from "node:path";
import type { BlobInfo, BlobStore, PutOptions } from "./blob-store.js";
import { validateBlobKey, validateBlobPrefix } from "./blob-key.js";
import { sha256Hex } from "./digest.js";
import { BlobDigestMismatchError, BlobNotFoundError, BlobStoreConfigError, BlobStoreError } from "./errors.js";
import { openBlob, sealBlob } from "./blob-encryption.js";

export interface FilesystemBlobStoreOptions {
  /** 32-byte AES-256-GCM key (parseBlobEncryptionKey); objects are stored in the clear without it. */
  readonly encryptionKey?: Buffer;
}

const INCOMING = ".incoming";

export class FilesystemBlobStore implements BlobStore {
  readonly rootDir: string;
  private readonly encryptionKey: Buffer | undefined;

  /** Uses rootDir (created on first write); throws BlobStoreConfigError unless it is absolute or for a key that is not 32 bytes. */
  constructor(rootDir: string, options: FilesystemBlobStoreOptions = {}) {
    if (!isAbsolute(rootDir)) throw new BlobStoreConfigError(`filesystem blob store root ${JSON.stringify(rootDir)} must be an absolute path`);
    if (options.encryptionKey !== undefined && options.encryptionKey.length !== 32) throw new BlobStoreConfigError("BLOB_ENCRYPTION_KEY must be 32 bytes");
    this.rootDir = rootDir;
    this.encryptionKey = options.encryptionKey;
  }

  /** Whether objects are encrypted at rest. */
  get encrypted(): boolean {
    return this.encryptionKey !== undefined;
  }

  /** Writes body atomically under key; throws InvalidBlobKeyError or BlobStoreError. */
  async put(key: string, body: Uint8Array, _options?: PutOptions): Promise<BlobInfo> {
    const target = this.pathOf(key);
    const sha256 = sha256Hex(body);
    const incoming = join(this.rootDir, INCOMING);
    const temp = join(incoming, `${randomBytes(12).toString("hex")}.tmp`);
    try {
      await mkdir(incoming, { recursive: true });
      await mkdir(dirname(target), { recursive: true });
      const handle = await open(temp, "wx", 0o644);
      try {
        await handle.writeFile(this.encryptionKey === undefined ? body : sealBlob(this.encryptionKey, key, body));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
      await syncDirectory(dirname(target));
    } catch (error) {
      await rm(temp, { force: true });
      throw new BlobStoreError(`could not write blob ${JSON.stringify(key)}`, { cause: error });
    }
    return { key, sha256, size: body.byteLength };
  }

  /** Reads the bytes under key; throws BlobNotFoundError, InvalidBlobKeyError, BlobTamperedError (encrypted store) or BlobStoreError. */
  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    let stored: Buffer;
    try {
      stored = await readFile(path);
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(key, { cause: error });
      throw new BlobStoreError(`could not read blob ${JSON.stringify(key)}`, { cause: error });
    }
    return this.encryptionKey === undefined ? stored : openBlob(this.encryptionKey, key, stored);
  }

  /** Reads the bytes under key and checks their sha256; throws BlobDigestMismatchError when they differ. */
  async getVerified(ref: { readonly key: string; readonly sha256: string }): Promise<Buffer> {
    const bytes = await this.get(ref.key);
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) throw new BlobDigestMismatchError(ref.key, ref.sha256, actual);
    return bytes;
  }

  /** Whether a file exists under key; throws InvalidBlobKeyError or BlobStoreError. */
  async exists(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      return (await stat(path)).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw new BlobStoreError(`could not stat blob ${JSON.stringify(key)}`, { cause: error });
    }
  }

  /** Removes the file under key, if any; throws InvalidBlobKeyError or BlobStoreError. */
  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      if (isMissing(error)) return;
      throw new BlobStoreError(`could not delete blob ${JSON.stringify(key)}`, { cause: error });
    }
  }

  /** Keys starting with prefix, sorted; throws InvalidBlobKeyError for a malformed prefix. */
  async list(prefix: string): Promise<string[]> {
    validateBlobPrefix(prefix);
    // Walk only the deepest directory the prefix names, not the whole store.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash);
    const keys: string[] = [];
    await this.walk(base, keys);
    return keys.filter((key) => key.startsWith(prefix)).sort(compareKeys);
  }

  /**
   * Deletes every object under prefix last written before `olderThan` (file mtime) and returns
   * their keys, sorted. The evidence-retention sweep of this store (S3 has a lifecycle rule).
   */
  async deleteOlderThan(prefix: string, olderThan: Date): Promise<string[]> {
    const removed: string[] = [];
    for (const key of await this.list(prefix)) {
      const path = this.pathOf(key);
      try {
        if ((await stat(path)).mtime.getTime() < olderThan.getTime()) {
          await unlink(path);
          removed.push(key);
        }
      } catch (error) {
        if (isMissing(error)) continue;
        throw new BlobStoreError(`could not sweep blob ${JSON.stringify(key)}`, { cause: error });
      }
    }
    return removed;
  }

  private async walk(relativeDir: string, into: string[]): Promise<void> {
    const absolute = relativeDir === "" ? this.rootDir : join(this.rootDir, ...relativeDir.split("/"));
    let entries: Dirent[];
    try {
      entries = await readdir(absolute, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw new BlobStoreError(`could not list ${JSON.stringify(relativeDir)}`, { cause: error });
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue; // .incoming and anything no key can name
      const key = relativeDir === "" ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(key, into);
      else if (entry.isFile()) into.push(key);
    }
  }

  private pathOf(key: string): string {
    validateBlobKey(key);
    const path = join(this.rootDir, ...key.split("/"));
    // Belt and braces: validation already forbids every way out of rootDir.
    if (!path.startsWith(this.rootDir.endsWith(sep) ? this.rootDir : this.rootDir + sep)) {
      throw new BlobStoreError(`blob key ${JSON.stringify(key)} resolved outside the store`);
    }
    return path;
  }
}

/** Byte order of the ASCII keys, the order S3 lists in. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** No object under the key: no such file, a directory where the key ends, or a file on the way. */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR";
}

/** fsync a directory so that a rename into it survives a power loss. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
