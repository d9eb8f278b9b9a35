/** Waits until a service answers grpc.health.v1 Check with SERVING. */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { healthV1 } from "@vexxy/proto";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls url's health service until SERVING.
 * @throws Error naming the service when it is not serving within timeoutMs or isAlive() turns false.
 */
export async function waitForServing(name: string, url: string, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const client = createClient(healthV1.Health, createGrpcTransport({ baseUrl: url }));
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`${name} exited during start-up (see its log)`);
    try {
      const res = await client.check({ service: "" }, { timeoutMs: 1000 });
      if (res.status === healthV1.HealthCheckResponse_ServingStatus.SERVING) return;
      lastError = `status ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
  }
  throw new Error(`${name} at ${url} was not serving within ${timeoutMs} ms (${lastError})`);
}
