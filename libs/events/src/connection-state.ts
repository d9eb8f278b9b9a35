/**
 * Whether the NATS connection is currently up. A request the client buffers while it is
 * reconnecting is not answered after the reconnect (observed with nats-server 2.9 and
 * @nats-io/transport-node 3.x: it times out), so publishes and pull retries wait for the
 * connection first instead of spending a whole request timeout on a lost request.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@vexxy/platform";

/** The connection's up/down state, fed by its status events. */
export interface ConnectionState {
  /** Resolves once connected, or after timeoutMs (the caller's request then fails or retries). */
  whenConnected(timeoutMs: number): Promise<void>;
}

/** Watches nc's status events until it closes; logs disconnects and reconnects. */
export function watchConnection(nc: NatsConnection, logger: Logger): ConnectionState {
  let connected = true;
  let waiters: (() => void)[] = [];
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const fn of w) fn();
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        logger.warn("disconnected from NATS; reconnecting", { server: s.server });
      } else if (s.type === "reconnect") {
        connected = true;
        logger.info("reconnected to NATS", { server: s.server });
        wake();
      }
    }
  })()
    .catch(() => undefined)
    .finally(() => {
      connected = true;
      wake();
    });
  void nc.closed().then(() => {
    connected = true;
    wake();
  });
  return {
    whenConnected(timeoutMs) {
      if (connected || nc.isClosed()) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done(): void {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }
        waiters.push(done);
      });
    },
  };
}
