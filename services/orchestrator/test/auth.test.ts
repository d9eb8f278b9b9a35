/**
 * Authentication of the public API against a real orchestrator (real PostgreSQL and NATS) with
 * a plain grpc-js client: VEXxy core's bearer JWTs verified by jose against a JWKS file holding
 * RSA, EC and Ed25519 public keys. Every attack of the list is Unauthenticated, with a message
 * saying why and no key material; a tier without runtime analysis is PermissionDenied; health
 * and reflection answer without a token.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { healthV1, reflectionV1 } from "@vexxy/proto";
import { createGrpcJsClient } from "@vexxy/testkit";
import { DIGEST, ONE_FINDING_SCAN, grpcError, startTestOrchestrator, type TestOrchestrator } from "./support/test-orchestrator.js";

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const ISSUER = "https://core.vexxy.test/";
const AUDIENCE = "vexxy-reachability";

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly spkiPem: string;
}

async function signingKey(kid: string, alg: "RS256" | "ES256" | "EdDSA"): Promise<SigningKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    alg,
    privateKey: pair.privateKey,
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" },
    spkiPem: await exportSPKI(pair.publicKey),
  };
}

interface TokenOptions {
  readonly org?: string | null;
  readonly tier?: string;
  readonly iss?: string;
  readonly aud?: string;
  /** Seconds from now. */
  readonly exp?: number;
  readonly nbf?: number;
  readonly kid?: string;
}

async function token(key: SigningKey, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { tier: o.tier ?? "ultimate" };
  if (o.org !== null) claims["org_id"] = o.org ?? "acme";
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid, typ: "JWT" })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setSubject("user-1")
    .setIssuedAt()
    .setExpirationTime(now + (o.exp ?? 600));
  if (o.nbf !== undefined) jwt.setNotBefore(now + o.nbf);
  return await jwt.sign(key.privateKey);
}

describe("public API authentication (bearer JWTs of VEXxy core, verified with jose; real orchestrator, grpc-js client)", function () {
  this.timeout(180000);
  let t: TestOrchestrator;
  let rsa: SigningKey;
  let ecA: SigningKey;
  let ecB: SigningKey;
  let ed: SigningKey;
  let stranger: SigningKey;
  let jwksFile: string;

  const writeJwks = async (keys: SigningKey[]): Promise<void> => {
    await writeFile(jwksFile, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  };

  before(async () => {
    [rsa, ecA, ecB, ed, stranger] = await Promise.all([
      signingKey("rsa-1", "RS256"),
      signingKey("ec-a", "ES256"),
      signingKey("ec-b", "ES256"),
      signingKey("ed-1", "EdDSA"),
      signingKey("ec-a", "ES256"),
    ]);
    t = await startTestOrchestrator("orch_auth", async (dir) => {
      jwksFile = join(dir, "jwks.json");
      await writeJwks([rsa, ecA, ecB, ed]);
      return {
        jwt: {
          keys: { kind: "file", path: jwksFile },
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ["ES256", "RS256", "EdDSA"],
          clockToleranceSeconds: 30,
          organizationClaim: "org_id",
          tierClaim: "tier",
        },
        runtimeAnalysisTiers: ["ultimate"],
        monthlyLimits: { ultimate: 200 },
        defaultMonthlyLimit: 50,
      };
    });
  });
  after(async () => {
    await t?.stop();
  });

  const list = (bearer?: string) => t.client(bearer).unary("listAnalyses", {});

  async function assertUnauthenticated(bearer: string | undefined, why: RegExp, label: string): Promise<void> {
    const err = await grpcError(list(bearer));
    assert.equal(err.code, UNAUTHENTICATED, `${label}: ${err.details}`);
    assert.match(err.details, why, label);
    for (const k of [rsa, ecA, ecB, ed]) {
      assert.ok(!err.details.includes(k.spkiPem.split("\n")[1]!), `${label}: no key material in the message`);
      assert.ok(!err.details.includes(String(k.publicJwk.x ?? k.publicJwk.n)), `${label}: no key material in the message`);
    }
  }

  it("accepts a good RS256, ES256 and EdDSA token and acts for its organization", async () => {
    for (const key of [rsa, ecA, ed]) {
      const res = await list(await token(key));
      assert.deepEqual(res.analyses, [], key.alg);
    }
    const submitted = await t.client(await token(ecA, { org: "acme" })).unary("submitAnalysis", {
      imageRef: "oci:/img:demo",
      imageDigest: DIGEST,
      vulnerabilityReport: ONE_FINDING_SCAN,
    });
    const got = await t.client(await token(rsa, { org: "acme" })).unary("getAnalysis", { jobId: submitted.jobId });
    assert.equal(got.analysis?.organizationId, "acme");
  });

  it("refuses a missing token and malformed authorization headers with Unauthenticated saying what is wrong", async () => {
    await assertUnauthenticated(undefined, /missing bearer token/, "no header");
    const basic = await grpcError(t.client().unary("listAnalyses", {}, { metadata: { authorization: "Basic dXNlcjpwYXNz" } }));
    assert.equal(basic.code, UNAUTHENTICATED);
    assert.match(basic.details, /malformed authorization header/);
    const bare = await grpcError(t.client().unary("listAnalyses", {}, { metadata: { authorization: "Bearer" } }));
    assert.equal(bare.code, UNAUTHENTICATED);
    await assertUnauthenticated("not-a-jwt", /malformed/, "garbage token");
    await assertUnauthenticated("a.b.c", /malformed/, "three garbage segments");
  });

  it("refuses alg none, HS256 signed with the RSA public key as HMAC secret (HS/RS confusion), and a token with a bad signature", async () => {
    const none = new UnsecuredJWT({ org_id: "acme", tier: "ultimate" }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("10m").encode();
    await assertUnauthenticated(none, /algorithm is not allowed|unsupported|malformed/, "alg none");
    const confused = await new SignJWT({ org_id: "acme", tier: "ultimate" })
      .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(rsa.spkiPem));
    await assertUnauthenticated(confused, /algorithm is not allowed/, "HS256 with the RSA public key");
    const good = await token(ecA);
    const [h, p, s] = good.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    await assertUnauthenticated(flipped, /signature is invalid/, "flipped signature byte");
    const otherPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), org_id: "victim" })).toString("base64url");
    await assertUnauthenticated(`${h}.${otherPayload}.${s}`, /signature is invalid/, "payload changed after signing");
  });

  it("refuses a wrong audience, a wrong issuer, an expired token and one not valid yet, past the 30 s leeway, and accepts skew within it", async () => {
    await assertUnauthenticated(await token(ecA, { aud: "some-other-service" }), /audience \(aud\)/, "wrong aud");
    await assertUnauthenticated(await token(ecA, { iss: "https://evil.example/" }), /issuer \(iss\)/, "wrong iss");
    await assertUnauthenticated(await token(ecA, { exp: -120 }), /expired/, "expired 2 min ago");
    await assertUnauthenticated(await token(ecA, { nbf: 300 }), /not valid yet/, "nbf in 5 min");
    assert.ok(await list(await token(ecA, { exp: -10 })), "expired 10 s ago: within the leeway");
    assert.ok(await list(await token(ecA, { nbf: 10 })), "valid in 10 s: within the leeway");
  });

  it("refuses an unknown kid and a key that is not in the JWKS under a known kid, and a token without the organization claim", async () => {
    await assertUnauthenticated(await token(ecA, { kid: "retired-key" }), /no key matches/, "unknown kid");
    await assertUnauthenticated(await token(stranger), /signature is invalid/, "another key under kid ec-a");
    await assertUnauthenticated(await token(ecA, { org: null }), /org_id/, "no org_id");
  });

  it("rotates keys through the JWKS file: two keys accepted side by side, the dropped one refused once the file changes", async () => {
    const oldToken = await token(ecA);
    const newToken = await token(ecB);
    assert.ok(await list(oldToken));
    assert.ok(await list(newToken));
    await writeJwks([rsa, ecB, ed]);
    // The file is looked at every 2 s.
    await new Promise((r) => setTimeout(r, 2500));
    await assertUnauthenticated(oldToken, /no key matches/, "dropped key");
    assert.ok(await list(newToken), "the new key still works");
    await writeJwks([rsa, ecA, ecB, ed]);
    await new Promise((r) => setTimeout(r, 2500));
  });

  it("refuses SubmitAnalysis with PermissionDenied for a tier without runtime analysis, naming the tier", async () => {
    const err = await grpcError(
      t
        .client(await token(ecA, { tier: "enterprise" }))
        .unary("submitAnalysis", { imageRef: "oci:/img:demo", imageDigest: DIGEST, vulnerabilityReport: ONE_FINDING_SCAN }),
    );
    assert.equal(err.code, PERMISSION_DENIED);
    assert.match(err.details, /runtime analysis is not part of the "enterprise" tier/);
  });

  it("answers health and reflection without a token", async () => {
    const health = createGrpcJsClient(healthV1.Health, t.orchestrator.url);
    try {
      const res = await health.unary("check", { service: "vexxy.orchestrator.v1.AnalysisService" });
      assert.equal(res.status, healthV1.HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }
    const reflection = createClient(reflectionV1.ServerReflection, createGrpcTransport({ baseUrl: t.orchestrator.url }));
    async function* ask(): AsyncGenerator<reflectionV1.ServerReflectionRequest> {
      yield create(reflectionV1.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "*" } });
    }
    const names: string[] = [];
    for await (const res of reflection.serverReflectionInfo(ask())) {
      if (res.messageResponse.case === "listServicesResponse") names.push(...res.messageResponse.value.service.map((s) => s.name));
    }
    assert.ok(names.includes("vexxy.orchestrator.v1.AnalysisService"), names.join(","));
  });
});
