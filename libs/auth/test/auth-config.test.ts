import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, loadConfig } from "@vexxy/platform";
import { tempDir, type TempDir } from "@vexxy/testkit";
import { JwtVerifier, KeySetError, createDevCredentials, internalAuthEnv, jwtAuthEnv } from "../src/index.js";

describe("auth configuration: no start without credentials", () => {
  let dir: TempDir;
  before(async () => {
    dir = await tempDir("auth-config");
  });
  after(async () => {
    await dir?.remove();
  });

  const problems = (fn: () => unknown): string[] => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems.map((p) => p.variable);
    }
    assert.fail("the configuration was accepted");
  };

  it("refuses to start without a JWKS, an issuer and an audience, naming each variable", () => {
    assert.deepEqual(problems(() => loadConfig(() => jwtAuthEnv(), {})).sort(), ["AUTH_AUDIENCE", "AUTH_ISSUER", "AUTH_JWKS_FILE"]);
  });

  it("refuses none and HMAC algorithms in AUTH_ALGORITHMS, and both JWKS sources at once", () => {
    const base = { AUTH_ISSUER: "i", AUTH_AUDIENCE: "a", AUTH_JWKS_FILE: "/x.json" };
    assert.deepEqual(
      problems(() => loadConfig(() => jwtAuthEnv(), { ...base, AUTH_ALGORITHMS: "RS256,HS256" })),
      ["AUTH_ALGORITHMS"],
    );
    assert.deepEqual(
      problems(() => loadConfig(() => jwtAuthEnv(), { ...base, AUTH_ALGORITHMS: "none" })),
      ["AUTH_ALGORITHMS"],
    );
    assert.deepEqual(
      problems(() => loadConfig(() => jwtAuthEnv(), { ...base, AUTH_JWKS_URL: "https://core.example/jwks" })),
      ["AUTH_JWKS_FILE"],
    );
    const ok = loadConfig(() => jwtAuthEnv(), base);
    assert.deepEqual(ok.algorithms, ["ES256", "RS256", "EdDSA"]);
    assert.equal(ok.clockToleranceSeconds, 30);
    assert.equal(ok.organizationClaim, "org_id");
  });

  it("refuses an internal secret that is missing, unreadable or shorter than 32 characters, without echoing it", async () => {
    assert.deepEqual(
      problems(() => loadConfig(() => internalAuthEnv(), {})),
      ["INTERNAL_AUTH_TOKEN"],
    );
    assert.deepEqual(
      problems(() => loadConfig(() => internalAuthEnv(), { INTERNAL_AUTH_TOKEN_FILE: join(dir.path, "absent") })),
      ["INTERNAL_AUTH_TOKEN_FILE"],
    );
    try {
      loadConfig(() => internalAuthEnv(), { INTERNAL_AUTH_TOKEN: "short-secret" });
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.doesNotMatch(err.message, /short-secret/);
    }
    const file = join(dir.path, "secret");
    await writeFile(file, `${"s".repeat(40)}\n`);
    assert.equal(
      loadConfig(() => internalAuthEnv(), { INTERNAL_AUTH_TOKEN_FILE: file }),
      "s".repeat(40),
    );
  });

  it("refuses a JWKS file holding a private or symmetric key when the verifier is built", async () => {
    const creds = await createDevCredentials(join(dir.path, "dev"));
    const privateJwks = join(dir.path, "private.json");
    await writeFile(privateJwks, JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }));
    const settings = { issuer: "i", audience: "a", algorithms: ["ES256"], clockToleranceSeconds: 30, organizationClaim: "org_id", tierClaim: "tier" };
    assert.throws(() => new JwtVerifier({ ...settings, keys: { kind: "file", path: privateJwks } }), KeySetError);
    assert.ok(new JwtVerifier({ ...settings, keys: { kind: "file", path: creds.jwksFile } }));
  });
});
