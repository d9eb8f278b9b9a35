/**
 * Signing keys with rotation. VEX_STATE_DIR/keys/ holds one file per key, named by the key's
 * fingerprint (hex sha256 of its SPKI DER): `<fingerprint>.pem` (PKCS#8 private key, mode 0600)
 * or `<fingerprint>.pub.pem` (SPKI public key only, a retired key whose private part was
 * deleted), and `active`, one line naming the fingerprint that signs. Every key listed
 * verifies; only the active one signs. The key id of a key is its hint, base64(sha256(SPKI
 * DER)), what cosign writes as the bundle's `verificationMaterial.publicKey.hint`.
 *
 * Rotation is a file operation on a stopped or running service (the new key is used from the
 * next start): a new key is written with O_EXCL, then `active` is replaced by rename, so a
 * reader sees either the old or the new pointer, never a torn one. A deployment that never
 * rotated keeps its single generated key in VEX_STATE_DIR/vex-signing.key.pem; the first
 * rotation copies it into keys/ so its bundles keep verifying.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { access, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@vexxy/platform";
import { SigningKeyError } from "../errors.js";
import { GENERATED_KEY_FILE, keyHint, loadSigningKey, signingKeyFrom, type SigningKey } from "./signing-key.js";

/** Directory of the key ring inside VEX_STATE_DIR. */
export const KEYS_DIR = "keys";
/** File inside KEYS_DIR naming the active key's fingerprint. */
export const ACTIVE_KEY_FILE = "active";

/** A public key that verifies bundles, with its id. */
export interface VerificationKey {
  /** base64(sha256(SPKI DER)): the bundle hint and DSSE keyid of what this key signed. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  /** Whether this key signs new bundles. */
  readonly active: boolean;
}

/** The active signing key and every key that verifies (the active one first). */
export interface KeyRing {
  readonly active: SigningKey;
  readonly keys: readonly VerificationKey[];
}

/** hex(sha256(SPKI DER)): the file name of a key in KEYS_DIR. Never throws for a valid KeyObject. */
export function keyFingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/** A VerificationKey from a public key. Never throws for a valid KeyObject. */
export function verificationKey(publicKey: KeyObject, active: boolean): VerificationKey {
  return { keyId: keyHint(publicKey), publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), active };
}

/** A ring of one key (tests, and a deployment configured with VEX_SIGNING_KEY_FILE alone). Never throws. */
export function singleKeyRing(key: SigningKey): KeyRing {
  return { active: key, keys: [verificationKey(key.publicKey, true)] };
}

const FINGERPRINT_FILE = /^([0-9a-f]{64})(\.pub)?\.pem$/;

interface RingFiles {
  readonly activeFingerprint: string | undefined;
  readonly files: ReadonlyMap<string, { path: string; isPrivate: boolean }>;
}

async function readRingFiles(dir: string): Promise<RingFiles | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const files = new Map<string, { path: string; isPrivate: boolean }>();
  for (const name of names.sort()) {
    const m = FINGERPRINT_FILE.exec(name);
    if (m === null) continue;
    const fingerprint = m[1] as string;
    const isPrivate = m[2] === undefined;
    // A private key wins over a public copy of the same key.
    if (files.get(fingerprint)?.isPrivate !== true) files.set(fingerprint, { path: join(dir, name), isPrivate });
  }
  let activeFingerprint: string | undefined;
  try {
    activeFingerprint = (await readFile(join(dir, ACTIVE_KEY_FILE), "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return { activeFingerprint, files };
}

async function readPublicKeys(ring: RingFiles, dir: string): Promise<Map<string, { publicKey: KeyObject; privateKey?: KeyObject }>> {
  const out = new Map<string, { publicKey: KeyObject; privateKey?: KeyObject }>();
  for (const [fingerprint, file] of ring.files) {
    const pem = await readFile(file.path);
    let entry: { publicKey: KeyObject; privateKey?: KeyObject };
    try {
      if (file.isPrivate) {
        const privateKey = createPrivateKey(pem);
        entry = { publicKey: createPublicKey(privateKey), privateKey };
      } else {
        entry = { publicKey: createPublicKey(pem) };
      }
    } catch (cause) {
      throw new SigningKeyError(`${file.path} (key ring ${dir}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (keyFingerprint(entry.publicKey) !== fingerprint) {
      throw new SigningKeyError(
        `${file.path} (key ring ${dir}): the file name is not the fingerprint of the key it holds (${keyFingerprint(entry.publicKey)})`,
      );
    }
    out.set(fingerprint, entry);
  }
  return out;
}

/**
 * Loads the key ring: with VEX_SIGNING_KEY_FILE naming a file, that key signs and the keys in
 * stateDir/keys/ verify too; else (unset, or naming no file), with stateDir/keys/active, the key it names signs and every
 * key in keys/ verifies; else the single key of loadSigningKey (generated on first start).
 * @throws SigningKeyError naming the file when a key is unreadable, not ECDSA P-256 (the active
 *   one), stored under a name that is not its fingerprint, or `active` names no private key.
 */
export async function loadKeyRing(keyFile: string | undefined, stateDir: string, logger: Logger): Promise<KeyRing> {
  const dir = join(stateDir, KEYS_DIR);
  const ring = await readRingFiles(dir);
  const loaded = ring === undefined ? new Map<string, { publicKey: KeyObject; privateKey?: KeyObject }>() : await readPublicKeys(ring, dir);
  let active: SigningKey;
  // VEX_SIGNING_KEY_FILE naming no file falls back to the ring's active key when there is one.
  const keyFileExists =
    keyFile !== undefined &&
    (await access(keyFile).then(
      () => true,
      () => false,
    ));
  if (keyFileExists || ring?.activeFingerprint === undefined) {
    active = await loadSigningKey(keyFile, stateDir, logger);
  } else {
    const entry = loaded.get(ring.activeFingerprint);
    if (entry?.privateKey === undefined) {
      throw new SigningKeyError(
        `${join(dir, ACTIVE_KEY_FILE)} names ${JSON.stringify(ring.activeFingerprint)}, which has no private key file ${ring.activeFingerprint}.pem in ${dir}`,
      );
    }
    try {
      active = signingKeyFrom(entry.privateKey);
    } catch (cause) {
      throw new SigningKeyError(`${join(dir, `${ring.activeFingerprint}.pem`)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }
  const activeFingerprint = keyFingerprint(active.publicKey);
  const keys = [verificationKey(active.publicKey, true)];
  for (const [fingerprint, entry] of loaded) if (fingerprint !== activeFingerprint) keys.push(verificationKey(entry.publicKey, false));
  return { active, keys };
}

/** What a rotation did. */
export interface RotationResult {
  /** Key id (hint) of the new active key. */
  readonly activeKeyId: string;
  readonly activeFingerprint: string;
  /** Key ids of every key that still verifies, the new one first. */
  readonly keyIds: readonly string[];
  /** Path of the legacy key copied into the ring, when this was the first rotation. */
  readonly migrated?: string;
}

/**
 * Rotates the key ring in stateDir: a new ECDSA P-256 key becomes active, every earlier key
 * (including a legacy vex-signing.key.pem, copied in on the first rotation) stays for
 * verification. The service signs with the new key from its next start.
 * @throws SigningKeyError when an existing key file is unreadable; an Error from node:fs when
 *   stateDir cannot be written.
 */
export async function rotateKeyRing(stateDir: string): Promise<RotationResult> {
  const dir = join(stateDir, KEYS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let migrated: string | undefined;
  const before = await readRingFiles(dir);
  if (before?.activeFingerprint === undefined) {
    const legacyPath = join(stateDir, GENERATED_KEY_FILE);
    let legacy: Buffer | undefined;
    try {
      legacy = await readFile(legacyPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (legacy !== undefined) {
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey(legacy);
      } catch (cause) {
        throw new SigningKeyError(`${legacyPath}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      await writeKeyFile(join(dir, `${keyFingerprint(createPublicKey(privateKey))}.pem`), privateKey.export({ type: "pkcs8", format: "pem" }));
      migrated = legacyPath;
    }
  }
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const fresh = signingKeyFrom(privateKey);
  const fingerprint = keyFingerprint(fresh.publicKey);
  await writeKeyFile(join(dir, `${fingerprint}.pem`), privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(join(dir, `${fingerprint}.pub.pem`), fresh.publicKeyPem, { mode: 0o644 });
  const pointer = join(dir, `${ACTIVE_KEY_FILE}.${process.pid}.tmp`);
  await writeFile(pointer, `${fingerprint}\n`, { mode: 0o644 });
  await rename(pointer, join(dir, ACTIVE_KEY_FILE));
  const after = await readRingFiles(dir);
  const loaded = after === undefined ? new Map<string, { publicKey: KeyObject }>() : await readPublicKeys(after, dir);
  const keyIds = [fresh.hint, ...[...loaded.entries()].filter(([f]) => f !== fingerprint).map(([, e]) => keyHint(e.publicKey))];
  return { activeKeyId: fresh.hint, activeFingerprint: fingerprint, keyIds, ...(migrated !== undefined ? { migrated } : {}) };
}

async function writeKeyFile(path: string, pem: string | Buffer): Promise<void> {
  try {
    await writeFile(path, pem, { mode: 0o600, flag: "wx" });
  } catch (error) {
    // The same key (same fingerprint) already there: nothing to write.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}
