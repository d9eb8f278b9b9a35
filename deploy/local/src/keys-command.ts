/**
 * `vexxy keys rotate --state-dir DIR` and `vexxy keys list --state-dir DIR`: the vex service's
 * key ring in its VEX_STATE_DIR (for `vexxy up --state-dir S` that is S/vex). Rotation writes a
 * new active key and keeps every earlier one for verification; the service signs with the new
 * key from its next start. Exit status: 0 done, 2 unreadable or unwritable state dir or key.
 */
import { access } from "node:fs/promises";
import { join, resolve } from "node:path";
import { noopLogger } from "@vexxy/platform";
import { GENERATED_KEY_FILE, KEYS_DIR, loadKeyRing, rotateKeyRing } from "@vexxy/vex/lib";

async function exists(path: string): Promise<boolean> {
  return await access(path).then(
    () => true,
    () => false,
  );
}

function failure(verb: string, error: unknown): number {
  console.error(`vexxy keys ${verb}: ${error instanceof Error ? error.message : String(error)}`);
  return 2;
}

/** `vexxy keys rotate`: returns the exit status. Never throws. */
export async function runKeysRotateCommand(opts: { stateDir: string; json?: boolean }): Promise<number> {
  const stateDir = resolve(opts.stateDir);
  try {
    const result = await rotateKeyRing(stateDir);
    if (opts.json === true) {
      console.log(JSON.stringify(result, null, 2));
    } else {
      if (result.migrated !== undefined) console.log(`copied the existing key ${result.migrated} into ${join(stateDir, KEYS_DIR)} (it keeps verifying)`);
      console.log(`active key ${result.activeKeyId} (${join(stateDir, KEYS_DIR, `${result.activeFingerprint}.pem`)})`);
      console.log(`${result.keyIds.length} key(s) verify: ${result.keyIds.join(", ")}`);
      console.log("restart the vex service to sign with the new key");
    }
    return 0;
  } catch (error) {
    return failure("rotate", error);
  }
}

/** `vexxy keys list`: returns the exit status. Never throws; never generates a key. */
export async function runKeysListCommand(opts: { stateDir: string; json?: boolean }): Promise<number> {
  const stateDir = resolve(opts.stateDir);
  try {
    if (!(await exists(join(stateDir, KEYS_DIR))) && !(await exists(join(stateDir, GENERATED_KEY_FILE)))) {
      console.error(`vexxy keys list: ${stateDir} holds no key yet (the vex service generates one on first start)`);
      return 2;
    }
    const ring = await loadKeyRing(undefined, stateDir, noopLogger);
    const keys = ring.keys.map((k) => ({ keyId: k.keyId, active: k.active, publicKeyPem: k.publicKeyPem }));
    if (opts.json === true) console.log(JSON.stringify({ keys }, null, 2));
    else for (const k of keys) console.log(`${k.active ? "active " : "retired"} ${k.keyId}`);
    return 0;
  } catch (error) {
    return failure("list", error);
  }
}
