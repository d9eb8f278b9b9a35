/**
 * grpc.health.v1.Health: the serving status of the server as a whole ("") and of each mounted
 * service, answered by Check, List and Watch. A service flips a status with setStatus (e.g.
 * NOT_SERVING while its database is unreachable); the server calls shutdown() when it starts
 * closing, which reports NOT_SERVING everywhere and ends every Watch stream so graceful close
 * is not held up by watchers.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { healthV1 } from "@vexxy/proto";

/** The health protocol's serving statuses (UNKNOWN, SERVING, NOT_SERVING, SERVICE_UNKNOWN). */
export const ServingStatus = healthV1.HealthCheckResponse_ServingStatus;
export type ServingStatus = healthV1.HealthCheckResponse_ServingStatus;

// Node 20 has no Promise.withResolvers.
function signalPromise(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The overall status's service name, per the health protocol. */
export const OVERALL = "";

/** The statuses one server reports. */
export class HealthRegistry {
  readonly #statuses = new Map<string, ServingStatus>();
  #closed = false;
  #changed = signalPromise();

  /** Registers the overall status and each of `services` (fully qualified names) as SERVING. */
  constructor(services: readonly string[]) {
    this.#statuses.set(OVERALL, ServingStatus.SERVING);
    for (const service of services) this.#statuses.set(service, ServingStatus.SERVING);
  }

  /** Whether shutdown() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sets (or registers) a service's status; ignored after shutdown, which is final. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.#closed || this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#notify();
  }

  /** A service's status, or undefined for a service this server does not know. */
  getStatus(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Every known service with its status. */
  entries(): [string, ServingStatus][] {
    return [...this.#statuses.entries()];
  }

  /** Marks everything NOT_SERVING for good and ends every Watch stream after it saw that. */
  shutdown(): void {
    if (this.#closed) return;
    for (const service of this.#statuses.keys()) this.#statuses.set(service, ServingStatus.NOT_SERVING);
    this.#closed = true;
    this.#notify();
  }

  /**
   * Yields a service's status now and after every change (SERVICE_UNKNOWN while unknown), until
   * `signal` aborts or shutdown() ran. Intermediate flips between two reads may be coalesced.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let last: ServingStatus | undefined;
    const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    while (!signal.aborted) {
      const changed = this.#changed.promise;
      const current = this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
      if (current !== last) {
        last = current;
        yield current;
      }
      if (this.#closed) return;
      await Promise.race([changed, aborted]);
    }
  }

  #notify(): void {
    const previous = this.#changed;
    this.#changed = signalPromise();
    previous.resolve();
  }
}

/**
 * The Health service over a registry.
 * Check throws ConnectError NotFound for a service the registry does not know.
 */
export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof healthV1.Health> {
  return {
    check(request) {
      const status = registry.getStatus(request.service);
      if (status === undefined) throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      return create(healthV1.HealthCheckResponseSchema, { status });
    },
    list() {
      const statuses: Record<string, healthV1.HealthCheckResponse> = {};
      for (const [service, status] of registry.entries()) statuses[service] = create(healthV1.HealthCheckResponseSchema, { status });
      return create(healthV1.HealthListResponseSchema, { statuses });
    },
    async *watch(request, context) {
      for await (const status of registry.watch(request.service, context.signal)) {
        yield create(healthV1.HealthCheckResponseSchema, { status });
      }
    },
  };
}
