/**
 * The RPC server every service runs: one cleartext HTTP/2 port (connect-node) that speaks
 * Connect, gRPC and gRPC-Web, with grpc.health.v1.Health and gRPC server reflection (v1 and
 * v1alpha) mounted next to the service's own routes. Browsers cannot speak HTTP/2 without TLS,
 * so when `http1Port` is given the same handlers also listen on a second, HTTP/1.1 port for
 * Connect-web and gRPC-Web clients (gRPC itself needs HTTP/2 and stays on the main port).
 *
 * Every error a handler throws goes through toConnectError (see errorInterceptor), so nothing
 * but a named kind's message or a ConnectError reaches a client.
 *
 * close() is graceful and bounded: health goes NOT_SERVING (Watch streams see it and end), the
 * listeners stop accepting, open HTTP/2 sessions get GOAWAY so in-flight calls finish, and at
 * the deadline handlers' signals are aborted and whatever is still open is destroyed, so close()
 * never hangs on a client that keeps its connection.
 */
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { healthV1, reflectionV1, reflectionV1alpha } from "@vexxy/proto";
import { errorInterceptor } from "./errors.js";
import { traceInterceptor } from "./trace-interceptor.js";
import { createHealthService, HealthRegistry } from "./health.js";
import type { Logger } from "./logger.js";
import { createReflectionIndex, createReflectionServiceV1, createReflectionServiceV1alpha } from "./reflection.js";

export interface ServerOptions {
  /** Short service name for logs ("orchestrator"). */
  readonly serviceName: string;
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** HTTP/2 port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Mounts the service's handlers, e.g. `(router) => router.service(VexService, impl)`. */
  readonly routes: (router: ConnectRouter) => void;
  /** The services `routes` mounts: reported by health and listed by reflection. */
  readonly services: readonly DescService[];
  /** When set, also serve the same handlers over HTTP/1.1 on this port (0: a free one). */
  readonly http1Port?: number;
  readonly logger: Logger;
  /** How long close() lets in-flight calls run before cutting them off (default 10000 ms). */
  readonly shutdownTimeoutMs?: number;
  /** How long close() keeps serving after health went NOT_SERVING, for load balancers to notice (default 0). */
  readonly drainDelayMs?: number;
  /** Connect interceptors for every route (auth, logging). */
  readonly interceptors?: readonly Interceptor[];
}

export interface RunningServer {
  /** The HTTP/2 port actually bound. */
  readonly port: number;
  /** `http://host:port` of the HTTP/2 listener. */
  readonly url: string;
  /** The HTTP/1.1 port, when http1Port was given. */
  readonly http1Port: number | undefined;
  /** `http://host:port` of the HTTP/1.1 listener, when http1Port was given. */
  readonly http1Url: string | undefined;
  /** The health statuses this server reports; flip a service to NOT_SERVING with setStatus. */
  readonly health: HealthRegistry;
  /** Stops gracefully within shutdownTimeoutMs (see the module doc). Safe to call twice. */
  close(): Promise<void>;
}

/** A listener could not be bound (address in use, permission, bad host). */
export class ServerStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServerStartError";
  }
}

// Time left for aborted handlers to write their error before their connections are destroyed.
const ABORT_GRACE_MS = 250;

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function listen(server: Http2Server | Http1Server, host: string, port: number, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: Error): void => reject(new ServerStartError(`${what}: cannot listen on ${formatHost(host)}:${port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves true when `promise` settles within ms, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the server and resolves once every listener is bound.
 * @throws ServerStartError when a port cannot be bound (both listeners are closed again).
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger.child({ component: "server" });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10000;
  const drainDelayMs = options.drainDelayMs ?? 0;
  const health = new HealthRegistry(options.services.map((s) => s.typeName));
  const reflection = createReflectionIndex(options.services);
  const shutdown = new AbortController();

  const handler = connectNodeAdapter({
    routes(router) {
      options.routes(router);
      router.service(healthV1.Health, createHealthService(health));
      router.service(reflectionV1.ServerReflection, createReflectionServiceV1(reflection));
      router.service(reflectionV1alpha.ServerReflection, createReflectionServiceV1alpha(reflection));
    },
    shutdownSignal: shutdown.signal,
    interceptors: [traceInterceptor(), errorInterceptor(options.logger), ...(options.interceptors ?? [])],
  });

  const h2 = createHttp2Server(handler);
  const sessions = new Set<ServerHttp2Session>();
  h2.on("session", (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A peer vanishing mid-call surfaces here; without a listener it would crash the process.
    session.on("error", (err: Error) => logger.debug("http2 session error", { error: err.message }));
  });
  const h1 = options.http1Port === undefined ? undefined : createHttp1Server(handler);

  let port: number;
  let http1Port: number | undefined;
  try {
    port = await listen(h2, host, options.port ?? 0, options.serviceName);
    if (h1 !== undefined) http1Port = await listen(h1, host, options.http1Port ?? 0, `${options.serviceName} (HTTP/1.1)`);
  } catch (err) {
    if (h2.listening) h2.close();
    if (h1?.listening === true) h1.close();
    throw err;
  }
  const url = `http://${formatHost(host)}:${port}`;
  const http1Url = http1Port === undefined ? undefined : `http://${formatHost(host)}:${http1Port}`;
  logger.debug("server started", { service: options.serviceName, port, http1Port, services: options.services.map((s) => s.typeName) });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    health.shutdown();
    logger.info("server closing", { port, inFlightSessions: sessions.size });
    if (drainDelayMs > 0) await sleep(drainDelayMs);
    const closed = Promise.all([
      new Promise<void>((resolve) => h2.close(() => resolve())),
      h1 === undefined ? Promise.resolve() : new Promise<void>((resolve) => h1.close(() => resolve())),
    ]);
    // GOAWAY: no new streams on existing sessions, open streams run to completion.
    for (const session of sessions) session.close();
    h1?.closeIdleConnections();
    if (await within(closed, shutdownTimeoutMs)) return;
    logger.warn("calls still running at the shutdown deadline; cancelling them", { shutdownTimeoutMs, sessions: sessions.size });
    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    if (await within(closed, ABORT_GRACE_MS)) return;
    for (const session of sessions) session.destroy();
    h1?.closeAllConnections();
    await closed;
  };

  return {
    port,
    url,
    http1Port,
    http1Url,
    health,
    close() {
      closing ??= close();
      return closing;
    },
  };
}
