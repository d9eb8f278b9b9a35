/**
 * `vexxy verify` and `vexxy keys` run as real child processes (never imported), offline: exit
 * status 0 verified, 1 not verified with the reason code printed, 2 usage or unreadable input.
 * Bundles are the reference ECDSA P-256 vector (services/vex/test/fixtures, from the Sigstore
 * conformance material in /work/shared/reference/sigstore) and bundles signed here with
 * node:crypto from the DSSE spec (PAE, ECDSA P-256/SHA-256), independently of the service's
 * signing code, with keys that `vexxy keys rotate` wrote.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "services/vex/test/fixtures");
const REFERENCE_BUNDLE = join(FIXTURES, "openvex-attestation.ecdsa-p256.sigstore.json");
const REFERENCE_KEY = join(FIXTURES, "ecdsa-p256.pub.pem");
const REFERENCE_DIGEST = `sha256:${"a".repeat(64)}`;
const IMAGE_DIGEST = `sha256:${"c".repeat(64)}`;

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "deploy/local/src/cli.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBUG: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** An OpenVEX attestation about IMAGE_DIGEST as a Sigstore bundle v0.3, signed from the DSSE spec. */
function signBundle(privateKey: KeyObject, statusOverride?: string): string {
  const statement = {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: "registry.example.com/vexxy/demo", digest: { sha256: IMAGE_DIGEST.slice(7) } }],
    predicateType: "https://openvex.dev/ns",
    predicate: {
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://vexxy.dev/vex/test/1",
      author: "verify-cli test",
      timestamp: "2026-01-01T00:00:00Z",
      version: 1,
      statements: [{ vulnerability: { name: "CVE-2011-3374" }, products: [{ "@id": "pkg:oci/demo" }], status: statusOverride ?? "not_affected" }],
    },
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const type = "application/vnd.in-toto+json";
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  const hint = createHash("sha256")
    .update(createPublicKey(privateKey).export({ type: "spki", format: "der" }))
    .digest("base64");
  return JSON.stringify({
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: {
      payload: payload.toString("base64"),
      payloadType: type,
      signatures: [{ sig: sign("sha256", pae, privateKey).toString("base64"), keyid: hint }],
    },
  });
}

function tamper(bundleJson: string): string {
  const bundle = JSON.parse(bundleJson) as { dsseEnvelope: { payload: string } };
  const text = Buffer.from(bundle.dsseEnvelope.payload, "base64").toString("utf8").replace('"not_affected"', '"affected"');
  bundle.dsseEnvelope.payload = Buffer.from(text).toString("base64");
  return JSON.stringify(bundle);
}

describe("vexxy verify and vexxy keys as a child process (offline)", function () {
  this.timeout(300_000);
  let dir: string;
  let keyA: KeyObject;
  let keyAPub: string;
  let otherPub: string;
  let good: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vexxy-verify-cli-"));
    keyA = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    keyAPub = join(dir, "a.pub.pem");
    await writeFile(keyAPub, createPublicKey(keyA).export({ type: "spki", format: "pem" }));
    otherPub = join(dir, "other.pub.pem");
    await writeFile(otherPub, generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }));
    good = join(dir, "good.sigstore.json");
    await writeFile(good, signBundle(keyA));
  });

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("exits 0 for the reference ECDSA P-256 bundle with its key and its subject digest, naming the key and predicate type", async () => {
    const run = await runCli(["verify", REFERENCE_BUNDLE, "--key", REFERENCE_KEY, "--digest", REFERENCE_DIGEST]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /verified: signed by key \S+, https:\/\/openvex\.dev\/ns attestation about sha256:a{64} \(the expected digest\)/);
  });

  it("prints the result as JSON with --json: verified, key id, predicate type, subject digests", async () => {
    const run = await runCli(["verify", good, "--key", keyAPub, "--digest", IMAGE_DIGEST, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    const hint = createHash("sha256")
      .update(createPublicKey(keyA).export({ type: "spki", format: "der" }))
      .digest("base64");
    assert.deepEqual(
      [report["verified"], report["reason"], report["keyId"], report["predicateType"], report["subjectDigests"], report["via"]],
      [true, "", hint, "https://openvex.dev/ns", [IMAGE_DIGEST], "offline"],
    );
  });

  it("exits 1 with signature_invalid for a tampered payload, unknown_key for the wrong key, subject_digest_mismatch for another image", async () => {
    const tampered = join(dir, "tampered.sigstore.json");
    await writeFile(tampered, tamper(signBundle(keyA)));
    const cases: [string[], string][] = [
      [["verify", tampered, "--key", keyAPub], "signature_invalid"],
      [["verify", good, "--key", otherPub], "unknown_key"],
      [["verify", good, "--key", keyAPub, "--digest", REFERENCE_DIGEST], "subject_digest_mismatch"],
    ];
    for (const [args, reason] of cases) {
      const run = await runCli(args);
      assert.equal(run.code, 1, `${reason}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`NOT VERIFIED \\(${reason}\\): \\S`));
      const json = await runCli([...args, "--json"]);
      assert.equal(json.code, 1);
      assert.deepEqual([(JSON.parse(json.stdout) as { verified: boolean }).verified, (JSON.parse(json.stdout) as { reason: string }).reason], [false, reason]);
    }
  });

  it("exits 1 with malformed_bundle for a file that is not a Sigstore bundle", async () => {
    const notBundle = join(dir, "not-a-bundle.json");
    await writeFile(notBundle, JSON.stringify({ statements: [] }));
    const run = await runCli(["verify", notBundle, "--key", keyAPub]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /NOT VERIFIED \(malformed_bundle\)/);
  });

  it("exits 2 naming the problem for a missing bundle, no --key, a key file that is no key, a malformed --digest, a missing argument and an unreachable --endpoint", async () => {
    const notKey = join(dir, "not-a-key.pem");
    await writeFile(notKey, "hello\n");
    const cases: [string[], RegExp][] = [
      [["verify", join(dir, "absent.json"), "--key", keyAPub], /BUNDLE: cannot read .*absent\.json: ENOENT/],
      [["verify", good], /--key PEM is required/],
      [["verify", good, "--key", notKey], /--key: .*not-a-key\.pem holds no PEM public key/],
      [["verify", good, "--key", keyAPub, "--digest", "sha256:abc"], /--digest must be sha256:<64 lowercase hex>/],
      [["verify", "--key", keyAPub], /missing required argument 'bundle'/],
      [["verify", good, "--endpoint", "http://127.0.0.1:9"], /--endpoint http:\/\/127\.0\.0\.1:9: failed \(\w+\)/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  it("documents the exit codes and reason codes in its help", async () => {
    const run = await runCli(["verify", "--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Exit status: 0 verified; 1 not verified/);
    assert.match(run.stdout, /subject_digest_mismatch\); 2 usage or unreadable input/);
  });

  it("rotates the key ring: a bundle of the retired key still verifies with both public keys, keys list shows the new key active", async () => {
    const stateDir = join(dir, "vex-state");
    const first = await runCli(["keys", "rotate", "--state-dir", stateDir, "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli(["keys", "rotate", "--state-dir", stateDir, "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const r1 = JSON.parse(first.stdout) as { activeKeyId: string; activeFingerprint: string };
    const r2 = JSON.parse(second.stdout) as { activeKeyId: string; activeFingerprint: string; keyIds: string[] };
    assert.deepEqual(r2.keyIds, [r2.activeKeyId, r1.activeKeyId]);
    const keysDir = join(stateDir, "keys");
    assert.equal((await readFile(join(keysDir, "active"), "utf8")).trim(), r2.activeFingerprint);
    assert.deepEqual(
      (await readdir(keysDir)).sort(),
      [`${r1.activeFingerprint}.pem`, `${r1.activeFingerprint}.pub.pem`, `${r2.activeFingerprint}.pem`, `${r2.activeFingerprint}.pub.pem`, "active"].sort(),
    );

    const list = await runCli(["keys", "list", "--state-dir", stateDir]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split("\n"), [`active  ${r2.activeKeyId}`, `retired ${r1.activeKeyId}`]);

    const retiredBundle = join(dir, "retired.sigstore.json");
    await writeFile(retiredBundle, signBundle(createPrivateKey(await readFile(join(keysDir, `${r1.activeFingerprint}.pem`)))));
    const oldPub = join(keysDir, `${r1.activeFingerprint}.pub.pem`);
    const newPub = join(keysDir, `${r2.activeFingerprint}.pub.pem`);
    const both = await runCli(["verify", retiredBundle, "--key", newPub, "--key", oldPub, "--digest", IMAGE_DIGEST]);
    assert.equal(both.code, 0, both.stderr);
    assert.ok(both.stdout.includes(r1.activeKeyId), both.stdout);
    const newOnly = await runCli(["verify", retiredBundle, "--key", newPub]);
    assert.equal(newOnly.code, 1);
    assert.match(newOnly.stderr, /NOT VERIFIED \(unknown_key\)/);
  });

  it("exits 2 from keys list on a state dir with no key, and from keys rotate without --state-dir", async () => {
    const empty = await runCli(["keys", "list", "--state-dir", join(dir, "nothing-here")]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /holds no key yet/);
    const missing = await runCli(["keys", "rotate"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--state-dir <dir>' not specified/);
  });
});
