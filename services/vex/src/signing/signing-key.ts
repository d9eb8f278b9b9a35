/**
 * The VEX signing key: an ECDSA P-256 key read from VEX_SIGNING_KEY_FILE (PKCS#8 PEM), or, when
 * none is configured, generated once and kept (mode 0600) in the service's state dir so every
 * document of this deployment verifies with one public key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "@vexxy/platform";

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  /** base64(sha256(SPKI DER)): the bundle's key hint and the DSSE keyid, as cosign writes them. */
  readonly hint: string;
}

/** The key hint of a public key. */
export function keyHint(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64");
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error("the VEX signing key must be an ECDSA P-256 key");
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(), hint: keyHint(publicKey) };
}

/**
 * Loads the configured key, or the one kept in stateDir, or generates and keeps a new one.
 * @throws Error naming VEX_SIGNING_KEY_FILE when the configured file is unreadable or not a P-256 key.
 */
export async function loadSigningKey(keyFile: string | undefined, stateDir: string, logger: Logger): Promise<SigningKey> {
  if (keyFile !== undefined) {
    try {
      return fromPrivate(createPrivateKey(await readFile(keyFile)));
    } catch (cause) {
      throw new Error(`VEX_SIGNING_KEY_FILE=${keyFile}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }
  const kept = join(stateDir, "vex-signing.key.pem");
  const existing = await readFile(kept).catch(() => undefined);
  if (existing !== undefined) return fromPrivate(createPrivateKey(existing));
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await mkdir(dirname(kept), { recursive: true });
  await writeFile(kept, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  const key = fromPrivate(createPrivateKey(await readFile(kept)));
  logger.warn("generated a new VEX signing key (set VEX_SIGNING_KEY_FILE to use your own)", { path: kept, hint: key.hint });
  return key;
}
