/**
 * The VEX signing key: an ECDSA P-256 private key read from VEX_SIGNING_KEY_FILE (PKCS#8 PEM);
 * when that is unset or names no file, the key kept in VEX_STATE_DIR, generated on first start
 * and written with mode 0600, so every document of the deployment verifies with one public key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@vexxy/platform";
import { SigningKeyError } from "../errors.js";

/** File name of the generated key inside VEX_STATE_DIR. */
export const GENERATED_KEY_FILE = "vex-signing.key.pem";

/** A loaded signing key with what verifiers need to find it. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key (what GetSigningKey returns and vex-signing.pub.pem holds). */
  readonly publicKeyPem: string;
  /** base64(sha256(SPKI DER)): the bundle's key hint and the DSSE keyid, as cosign writes them. */
  readonly hint: string;
}

/** base64(sha256(SPKI DER)) of a public key. Never throws for a valid KeyObject. */
export function keyHint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("base64");
}

/**
 * A SigningKey from an ECDSA P-256 private key.
 * @throws SigningKeyError when the key is of another type or curve.
 */
export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new SigningKeyError("the VEX signing key must be an ECDSA P-256 private key");
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), hint: keyHint(publicKey) };
}

function parsePrivateKey(pem: Buffer, origin: string): SigningKey {
  try {
    return signingKeyFrom(createPrivateKey(pem));
  } catch (cause) {
    throw new SigningKeyError(`${origin}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Loads the key: VEX_SIGNING_KEY_FILE when it names a file, else the one kept in stateDir, else
 * a new one generated and kept there (logged at warn, with its hint).
 * @throws SigningKeyError naming VEX_SIGNING_KEY_FILE (or the kept file) when it is unreadable
 *   or not an ECDSA P-256 PKCS#8 key; an Error from node:fs when stateDir cannot be written.
 */
export async function loadSigningKey(keyFile: string | undefined, stateDir: string, logger: Logger): Promise<SigningKey> {
  if (keyFile !== undefined) {
    let pem: Buffer | undefined;
    try {
      pem = await readIfPresent(keyFile);
    } catch (cause) {
      throw new SigningKeyError(`VEX_SIGNING_KEY_FILE=${keyFile} cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (pem !== undefined) return parsePrivateKey(pem, `VEX_SIGNING_KEY_FILE=${keyFile}`);
    logger.warn("VEX_SIGNING_KEY_FILE names no file; using the key kept in VEX_STATE_DIR", { keyFile, stateDir });
  }
  const kept = join(stateDir, GENERATED_KEY_FILE);
  const existing = await readIfPresent(kept);
  if (existing !== undefined) return parsePrivateKey(existing, `${kept} (VEX_STATE_DIR)`);
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  try {
    // "wx": two replicas starting at once on one state dir must end up with the same key.
    await writeFile(kept, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const key = parsePrivateKey(await readFile(kept), `${kept} (VEX_STATE_DIR)`);
  logger.warn("generated a new VEX signing key; set VEX_SIGNING_KEY_FILE to use your own", { path: kept, keyHint: key.hint });
  return key;
}
