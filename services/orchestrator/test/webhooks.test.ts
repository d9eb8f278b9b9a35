import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, Code, ConnectError, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { testAuth, type TestAuth } from "./support/test-auth.js";
import { AnalysisService, AnalysisStatus } from "@vexxy/proto";
import { FilesystemBlobStore } from "@vexxy/blobstore";
import { noopLogger } from "@vexxy/platform";
import { startNatsServer, startPostgres, tempDir, type TempDir } from "@vexxy/testkit";
import { Webhook } from "standardwebhooks";
import { startOrchestratorService, type OrchestratorAuthConfig, type OrchestratorConfig, type RunningOrchestrator } from "../src/index.js";
import type { CheckedTarget, HostResolver } from "../src/webhooks/callback-guard.js";
import type { WebhookConnector } from "../src/webhooks/webhook-connector.js";
import { backoffMs } from "../src/webhooks/webhook-dispatcher.js";
import type { WebhookBody } from "../src/webhooks/webhook-payload.js";

const DIGEST = `sha256:${"c".repeat(64)}`;
const NO_FINDINGS = Buffer.from(JSON.stringify({ matches: [] }));
const ONE_FINDING = Buffer.from(
  JSON.stringify({ matches: [{ vulnerability: { id: "CVE-2024-0001" }, artifact: { name: "openssl", version: "3.0.15-1", type: "deb" } }] }),
);

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A webhook receiver on 127.0.0.1 that answers each request with the next status of `answers` (the last one repeats). */
class Receiver {
  readonly received: Received[] = [];
  answers: number[] = [200];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        const status = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("completion webhooks (real Postgres and JetStream, a real HTTP receiver on 127.0.0.1)", function () {
  this.timeout(120000);
  let pg: Awaited<ReturnType<typeof startPostgres>>;
  let nats: Awaited<ReturnType<typeof startNatsServer>>;
  let dir: TempDir;
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiver = new Receiver();
  let receiverUrl: string;
  let baseConfig: OrchestratorConfig;
  let auth: OrchestratorAuthConfig;
  let devAuth: TestAuth["devAuth"];

  before(async () => {
    pg = await startPostgres();
    nats = await startNatsServer();
    dir = await tempDir("orch-webhooks");
    receiverUrl = await receiver.start();
    ({ auth, devAuth } = await testAuth(dir.path));
    baseConfig = Object.freeze({
      auth,
      host: "127.0.0.1",
      port: 0,
      natsUrl: nats.url,
      natsStream: "VEXXY",
      databaseUrl: await pg.createDatabase("webhooks"),
      blobStoreUrl: `file://${dir.path}`,
      logLevel: "error",
      maxAttempts: 2,
      dispatchDeadlineSeconds: 600,
      runGraceSeconds: 600,
      stageDeadlineSeconds: 600,
      maxRedispatches: 0,
      reconcileIntervalMs: 1000,
      eventAckWaitMs: 5000,
      watchPollMs: 200,
      imageTransports: ["oci:"],
      webhooks: { secret, retryWindowSeconds: 3600, allowLoopbackHttp: true, retryBaseMs: 200, retryMaxMs: 1000, timeoutMs: 5000, pollMs: 100 },
    });
  });
  after(async () => {
    await receiver.stop();
    await nats?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  function clientOf(o: RunningOrchestrator): Client<typeof AnalysisService> {
    return createClient(AnalysisService, createGrpcTransport({ baseUrl: o.url, interceptors: [devAuth] }));
  }

  async function start(config: OrchestratorConfig = baseConfig, overrides: { webhookResolver?: HostResolver; webhookConnector?: WebhookConnector } = {}) {
    return await startOrchestratorService(config, { logger: noopLogger, blobs: new FilesystemBlobStore(dir.path), ...overrides });
  }

  describe("delivery to a receiver on loopback (WEBHOOK_ALLOW_LOOPBACK_HTTP=true, the embedded default)", () => {
    let orchestrator: RunningOrchestrator;
    let client: Client<typeof AnalysisService>;
    before(async () => {
      orchestrator = await start();
      client = clientOf(orchestrator);
    });
    after(async () => {
      await orchestrator?.close();
    });
    beforeEach(() => {
      receiver.received.length = 0;
      receiver.answers = [200];
    });

    it("posts a COMPLETE job's summary signed the Standard Webhooks way, verified by the standardwebhooks library", async () => {
      const { jobId } = await client.submitAnalysis({
        imageRef: "oci:/img:hooks",
        imageDigest: DIGEST,
        vulnerabilityReport: NO_FINDINGS,
        callbackUrl: `${receiverUrl}/hooks/vexxy`,
      });
      const got = await until(async () => receiver.received.find((r) => r.body.includes(jobId)));
      const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
      const payload = new Webhook(secret).verify(got.body, headers) as WebhookBody;
      assert.equal(payload.type, "analysis.completed");
      assert.equal(payload.data.job_id, jobId);
      assert.equal(payload.data.status, "COMPLETE");
      assert.equal(payload.data.image_ref, "oci:/img:hooks");
      assert.equal(payload.data.image_digest, DIGEST);
      assert.deepEqual(payload.data.verdict_counts, { not_affected: 0, affected: 0, fixed: 0, under_investigation: 0 });
      assert.equal(payload.data.error, null);
      assert.match(payload.data.completed_at ?? "", /^\d{4}-\d\d-\d\dT/);
      assert.match(headers["webhook-id"] ?? "", /^msg_/);
      // A signature made with another secret is rejected by the same verifier.
      assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(got.body, headers));
      const attempts = await until(async () => {
        const rows = await orchestrator.webhooks.deliveries(jobId);
        return rows.length === 1 ? rows : undefined;
      });
      assert.equal(attempts[0]!.statusCode, 200);
      assert.equal(attempts[0]!.error, null);
      assert.equal((await orchestrator.webhooks.outbox(jobId))?.state, "delivered");
    });

    it("retries after the receiver answered 500, with the same webhook-id and body, and records every attempt", async () => {
      receiver.answers = [500, 200];
      const { jobId } = await client.submitAnalysis({
        imageRef: "oci:/img:retry",
        imageDigest: DIGEST,
        vulnerabilityReport: NO_FINDINGS,
        callbackUrl: receiverUrl,
      });
      const outbox = await until(async () => {
        const row = await orchestrator.webhooks.outbox(jobId);
        return row?.state === "delivered" ? row : undefined;
      });
      assert.equal(outbox.attempts, 2);
      const attempts = await orchestrator.webhooks.deliveries(jobId);
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.statusCode]),
        [
          [1, 500],
          [2, 200],
        ],
      );
      assert.match(attempts[0]!.error ?? "", /answered 500/);
      const nextAt = attempts[0]!.nextAt;
      assert.ok(nextAt != null && nextAt.getTime() > attempts[0]!.at.getTime(), "the failed attempt says when the next is due");
      assert.equal(attempts[1]!.nextAt, null);
      const mine = receiver.received.filter((r) => r.body.includes(jobId));
      assert.equal(mine.length, 2);
      assert.equal(mine[0]!.headers["webhook-id"], mine[1]!.headers["webhook-id"]);
      assert.equal(mine[0]!.body, mine[1]!.body);
      for (const r of mine) new Webhook(secret).verify(r.body, Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)])));
    });

    it("posts a CANCELLED job's summary with its error once CancelAnalysis ends it", async () => {
      const { jobId } = await client.submitAnalysis({
        imageRef: "oci:/img:cancel",
        imageDigest: DIGEST,
        vulnerabilityReport: ONE_FINDING,
        callbackUrl: receiverUrl,
      });
      assert.equal(receiver.received.filter((r) => r.body.includes(jobId)).length, 0);
      await client.cancelAnalysis({ jobId, reason: "not needed" });
      const got = await until(async () => receiver.received.find((r) => r.body.includes(jobId)));
      const body = JSON.parse(got.body) as WebhookBody;
      assert.equal(body.type, "analysis.cancelled");
      assert.equal(body.data.status, "CANCELLED");
      assert.equal(body.data.error, "cancelled: not needed");
    });

    it("gives up once the next attempt would fall outside the retry window", async () => {
      await orchestrator.close();
      orchestrator = await start({ ...baseConfig, webhooks: { ...baseConfig.webhooks!, retryWindowSeconds: 1 } });
      client = clientOf(orchestrator);
      receiver.answers = [503];
      const { jobId } = await client.submitAnalysis({
        imageRef: "oci:/img:window",
        imageDigest: DIGEST,
        vulnerabilityReport: NO_FINDINGS,
        callbackUrl: receiverUrl,
      });
      const row = await until(async () => {
        const r = await orchestrator.webhooks.outbox(jobId);
        return r?.state === "gave_up" ? r : undefined;
      });
      const attempts = await orchestrator.webhooks.deliveries(jobId);
      assert.equal(attempts.length, row.attempts);
      assert.ok(attempts.length >= 1);
      assert.ok(attempts.every((a) => a.statusCode === 503));
      assert.equal(attempts[attempts.length - 1]!.nextAt, null);
    });
  });

  it("resumes a delivery after an orchestrator restart: the pending row is picked up by the new process", async () => {
    receiver.received.length = 0;
    receiver.answers = [503];
    const slow = { ...baseConfig, webhooks: { ...baseConfig.webhooks!, retryBaseMs: 1500, retryMaxMs: 1500 } };
    const first = await start(slow);
    const { jobId } = await clientOf(first).submitAnalysis({
      imageRef: "oci:/img:restart",
      imageDigest: DIGEST,
      vulnerabilityReport: NO_FINDINGS,
      callbackUrl: receiverUrl,
    });
    await until(async () => ((await first.webhooks.deliveries(jobId)).length >= 1 ? true : undefined));
    await first.close();
    receiver.answers = [200];
    const second = await start(slow);
    try {
      const row = await until(async () => {
        const r = await second.webhooks.outbox(jobId);
        return r?.state === "delivered" ? r : undefined;
      });
      const attempts = await second.webhooks.deliveries(jobId);
      assert.equal(attempts.length, row.attempts);
      assert.ok(attempts.length >= 2);
      assert.equal(attempts[0]!.statusCode, 503);
      assert.equal(attempts[attempts.length - 1]!.statusCode, 200);
    } finally {
      await second.close();
    }
  });

  it("spreads retries with exponential backoff and jitter, capped at the maximum delay", () => {
    assert.equal(
      backoffMs(1, 1000, 60000, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(1, 1000, 60000, () => 0),
      500,
    );
    assert.equal(
      backoffMs(4, 1000, 60000, () => 1),
      8000,
    );
    assert.equal(
      backoffMs(30, 1000, 60000, () => 1),
      60000,
    );
    assert.equal(
      backoffMs(30, 1000, 60000, () => 0),
      30000,
    );
  });

  describe("SSRF refusals in production mode (resolver and connector are stand-ins that record what they were asked; no packet leaves the host)", () => {
    let orchestrator: RunningOrchestrator;
    let client: Client<typeof AnalysisService>;
    const dns = new Map<string, string[]>();
    const asked: string[] = [];
    const connected: CheckedTarget[] = [];
    const resolver: HostResolver = async (hostname) => {
      asked.push(hostname);
      const addresses = dns.get(hostname);
      if (addresses === undefined) throw new Error(`ENOTFOUND ${hostname}`);
      return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    };
    const connector: WebhookConnector = async (target) => {
      connected.push(target);
      return { statusCode: 204 };
    };

    before(async () => {
      orchestrator = await start(
        { ...baseConfig, webhooks: { ...baseConfig.webhooks!, allowLoopbackHttp: false } },
        { webhookResolver: resolver, webhookConnector: connector },
      );
      client = clientOf(orchestrator);
    });
    after(async () => {
      await orchestrator?.close();
    });
    beforeEach(() => {
      asked.length = 0;
      connected.length = 0;
      dns.clear();
    });

    async function refused(callbackUrl: string, message: RegExp): Promise<void> {
      await assert.rejects(
        client.submitAnalysis({ imageRef: "oci:/img:ssrf", imageDigest: DIGEST, vulnerabilityReport: NO_FINDINGS, callbackUrl }),
        (e: unknown) => {
          assert.ok(e instanceof ConnectError);
          assert.equal(e.code, Code.InvalidArgument);
          assert.match(e.message, /callback_url/);
          assert.match(e.message, message);
          return true;
        },
      );
    }

    it("refuses an http callback_url (https is required), without resolving or connecting", async () => {
      await refused("http://hooks.example.com/x", /must be https/);
      await refused("http://127.0.0.1:9/x", /must be https/);
      await refused("ftp://hooks.example.com/x", /must be https/);
      assert.deepEqual(asked, []);
      assert.deepEqual(connected, []);
    });

    it("refuses hosts that resolve to private, loopback, link-local, CGNAT, IPv6 internal, IPv4-mapped, multicast or unspecified addresses", async () => {
      const cases: [string, string][] = [
        ["10.1.2.3", "private"],
        ["192.168.0.10", "private"],
        ["172.16.5.4", "private"],
        ["127.0.0.1", "loopback"],
        ["169.254.169.254", "linkLocal"],
        ["100.64.0.1", "carrierGradeNat"],
        ["0.0.0.0", "unspecified"],
        ["224.0.0.251", "multicast"],
        ["::1", "loopback"],
        ["fe80::1", "linkLocal"],
        ["fd00::1", "uniqueLocal"],
        ["::", "unspecified"],
        ["::ffff:10.0.0.1", "private"],
        ["::ffff:127.0.0.1", "loopback"],
        ["::ffff:169.254.169.254", "linkLocal"],
      ];
      for (const [i, [address, range]] of cases.entries()) {
        const host = `internal-${i}.example.com`;
        dns.set(host, [address]);
        await refused(`https://${host}/hook`, new RegExp(`resolves to ${address.replace(/[.]/g, "\\.")}, a ${range} address`));
      }
      assert.equal(asked.length, cases.length);
      assert.deepEqual(connected, []);
    });

    it("refuses a host when any one of its addresses is internal, and IP literals in the URL without a lookup", async () => {
      dns.set("mixed.example.com", ["93.184.216.34", "10.0.0.7"]);
      await refused("https://mixed.example.com/hook", /10\.0\.0\.7, a private address/);
      await refused("https://10.0.0.1/hook", /private/);
      await refused("https://[::ffff:a00:1]/hook", /private/);
      await refused("https://[fe80::1]/hook", /linkLocal/);
      await refused("https://nowhere.example.com/hook", /does not resolve/);
      assert.deepEqual(asked, ["mixed.example.com", "nowhere.example.com"]);
      assert.deepEqual(connected, []);
    });

    it("connects to the address it checked, and re-checks at delivery: a host rebound to loopback after submit is not contacted", async () => {
      dns.set("hooks.example.com", ["93.184.216.34"]);
      const ok = await client.submitAnalysis({
        imageRef: "oci:/img:ssrf",
        imageDigest: DIGEST,
        vulnerabilityReport: NO_FINDINGS,
        callbackUrl: "https://hooks.example.com/a",
      });
      await until(async () => ((await orchestrator.webhooks.outbox(ok.jobId))?.state === "delivered" ? true : undefined));
      assert.equal(connected.length, 1);
      assert.equal(connected[0]!.address, "93.184.216.34");
      assert.equal(connected[0]!.url.hostname, "hooks.example.com");

      dns.set("rebind.example.com", ["93.184.216.35"]);
      const pending = await client.submitAnalysis({
        imageRef: "oci:/img:ssrf",
        imageDigest: DIGEST,
        vulnerabilityReport: ONE_FINDING,
        callbackUrl: "https://rebind.example.com/b",
      });
      dns.set("rebind.example.com", ["127.0.0.1"]);
      await client.cancelAnalysis({ jobId: pending.jobId });
      const attempt = await until(async () => (await orchestrator.webhooks.deliveries(pending.jobId))[0]);
      assert.equal(attempt.statusCode, null);
      assert.match(attempt.error ?? "", /resolves to 127\.0\.0\.1, a loopback address/);
      assert.ok(attempt.nextAt !== null, "a refused attempt is retried later (DNS may change back)");
      assert.deepEqual(
        connected.map((c) => c.address),
        ["93.184.216.34"],
      );
    });

    it("refuses callback_url with FailedPrecondition when the server has no WEBHOOK_SECRET", async () => {
      const { webhooks: _, ...withoutWebhooks } = baseConfig;
      const plain = await start(withoutWebhooks);
      try {
        await assert.rejects(
          clientOf(plain).submitAnalysis({
            imageRef: "oci:/img:x",
            imageDigest: DIGEST,
            vulnerabilityReport: NO_FINDINGS,
            callbackUrl: "https://hooks.example.com/",
          }),
          (e: unknown) => e instanceof ConnectError && e.code === Code.FailedPrecondition && /callback_url/.test(e.message),
        );
        const done = await clientOf(plain).submitAnalysis({ imageRef: "oci:/img:x", imageDigest: DIGEST, vulnerabilityReport: NO_FINDINGS });
        assert.equal(done.status, AnalysisStatus.COMPLETE);
      } finally {
        await plain.close();
      }
    });
  });
});
