import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { AnalysisCancelledSchema } from "@vexxy/proto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServer } from "@vexxy/testkit";
import {
  InstancePresenceError,
  Subjects,
  connectEventBus,
  consumerName,
  eventMsgId,
  newInstanceId,
  type EventBus,
  type InboundEvent,
  type Subscription,
} from "@vexxy/events";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jobOf = (e: InboundEvent): string | undefined => (e.payload as { job?: { jobId: string } }).job?.jobId;

async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("per-instance (fan-out) consumers and presence (real nats-server)", function () {
  this.timeout(60000);
  let nats: NatsServer;
  let stream: string;
  let buses: EventBus[];
  let subs: Subscription[];
  let admin: NatsConnection | undefined;

  const bus = async (): Promise<EventBus> => {
    const b = await connectEventBus({ servers: nats.url, name: `replica-${buses.length}`, streamName: stream });
    buses.push(b);
    return b;
  };
  const manager = async (): Promise<JetStreamManager> => {
    admin ??= await connect({ servers: nats.url });
    return await jetstreamManager(admin);
  };
  const consumerNames = async (): Promise<string[]> => {
    const names: string[] = [];
    for await (const c of (await manager()).consumers.list(stream)) names.push(c.name);
    return names.sort();
  };
  const cancel = (jobId: string) => create(AnalysisCancelledSchema, { job: { jobId, attempt: 1 }, reason: "test" });

  beforeEach(async () => {
    nats = await startNatsServer();
    stream = `T${randomBytes(6).toString("hex").toUpperCase()}`;
    buses = [];
    subs = [];
    admin = undefined;
  });
  afterEach(async () => {
    for (const s of subs) await s.stop().catch(() => undefined);
    for (const b of buses) await b.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await nats.stop();
  });

  it("gives every instance each event, while the shared durable gives each event to one instance", async () => {
    const got: Record<string, string[]> = { a: [], b: [], shared: [] };
    for (const name of ["a", "b"] as const) {
      const b = await bus();
      const instance = newInstanceId(`svc${name}`);
      subs.push(
        await b.consume({ durable: "svc", subjects: [Subjects.analysisCancelled], instance }, async (e) => {
          got[name]!.push(jobOf(e)!);
        }),
      );
      subs.push(
        await b.consume({ durable: "svc", subjects: [Subjects.analysisCancelled] }, async (e) => {
          got["shared"]!.push(jobOf(e)!);
        }),
      );
    }
    const pub = buses[0]!;
    for (const job of ["j1", "j2", "j3"]) await pub.publish(Subjects.analysisCancelled, cancel(job), eventMsgId(Subjects.analysisCancelled, job, 1));
    await until(() => got["a"]!.length === 3 && got["b"]!.length === 3 && got["shared"]!.length === 3, "three events on each instance and on the durable");
    await sleep(500);
    assert.deepEqual(got["a"]!.sort(), ["j1", "j2", "j3"]);
    assert.deepEqual(got["b"]!.sort(), ["j1", "j2", "j3"]);
    assert.deepEqual(got["shared"]!.sort(), ["j1", "j2", "j3"], "the shared durable delivers each event once across instances");
  });

  it("delivers to a new instance only what is published after its consumer exists", async () => {
    const b = await bus();
    await b.publish(Subjects.analysisCancelled, cancel("before"), eventMsgId(Subjects.analysisCancelled, "before", 1));
    const got: string[] = [];
    subs.push(
      await b.consume({ durable: "svc", subjects: [Subjects.analysisCancelled], instance: "svc-late" }, async (e) => {
        got.push(jobOf(e)!);
      }),
    );
    await b.publish(Subjects.analysisCancelled, cancel("after"), eventMsgId(Subjects.analysisCancelled, "after", 1));
    await until(() => got.length >= 1, "the event published after");
    await sleep(500);
    assert.deepEqual(got, ["after"]);
  });

  it("redelivers to the same instance an event its handler failed", async () => {
    const b = await bus();
    let calls = 0;
    subs.push(
      await b.consume({ durable: "svc", subjects: [Subjects.analysisCancelled], instance: "svc-retry", backoffMs: [100] }, async () => {
        calls += 1;
        if (calls === 1) throw new Error("first delivery fails");
      }),
    );
    await b.publish(Subjects.analysisCancelled, cancel("retry"), eventMsgId(Subjects.analysisCancelled, "retry", 1));
    await until(() => calls >= 2, "the redelivery");
    assert.equal(calls, 2);
  });

  it("lets JetStream delete an instance's consumer once nobody pulls from it, so consumers do not pile up across restarts", async () => {
    const b = await bus();
    const instance = "svc-gone";
    const sub = await b.consume({ durable: "svc", subjects: [Subjects.analysisCancelled], instance, instanceInactiveMs: 1500 }, async () => undefined);
    const name = consumerName("svc", Subjects.analysisCancelled, instance);
    assert.ok((await consumerNames()).includes(name), `${name} exists while its instance pulls`);
    await sleep(4000);
    assert.ok((await consumerNames()).includes(name), "an instance that keeps pulling keeps its consumer past the threshold");
    await sub.stop();
    await until(async () => !(await consumerNames()).includes(name), "the idle consumer to be deleted", 20000);
  });

  it("answers presence probes: true for an announced live instance, false at once for one that is gone", async () => {
    const a = await bus();
    const b = await bus();
    await a.announceInstance!("svc-alive");
    assert.equal(await b.instanceAlive!("svc-alive"), true);
    const started = Date.now();
    assert.equal(await b.instanceAlive!("svc-never-started"), false);
    assert.ok(Date.now() - started < 2000, "no responders is known at once, not after the timeout");
    await a.close();
    assert.equal(await b.instanceAlive!("svc-alive"), false, "a closed process no longer answers");
  });

  it("throws InstancePresenceError when the probe cannot get any answer in time", async () => {
    const b = await bus();
    await nats.stop();
    await assert.rejects(() => b.instanceAlive!("svc-x", 500), InstancePresenceError);
  });
});
