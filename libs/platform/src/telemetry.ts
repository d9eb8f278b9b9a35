/**
 * OpenTelemetry for a service process, and the W3C trace-context helpers the event bus uses so
 * one trace spans a job across services.
 *
 * startTelemetry always installs the async context manager and the W3C propagators, so trace
 * context flows through RPCs and events; spans are exported (OTLP, configured by the standard
 * OTEL_* variables) only when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * is set, or appended as JSON lines to OTEL_SPANS_FILE when that is set (the file wins: no OTLP
 * then). Without any, no exporter exists and nothing touches the network. METRICS_PORT serves the
 * mesh's metrics (mesh-metrics.ts) for Prometheus at http://HOST:METRICS_PORT/metrics.
 */
import { context, defaultTextMapGetter, defaultTextMapSetter, type Context, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { NodeSDK, tracing } from "@opentelemetry/sdk-node";
import { ConfigError, env } from "./config.js";
import { JsonLinesSpanExporter } from "./span-file-exporter.js";

/** The running telemetry of a process. */
export interface Telemetry {
  /** Whether spans are exported (an OTLP endpoint or a spans file was configured). */
  readonly exporting: boolean;
  /** The port serving Prometheus's /metrics, when METRICS_PORT was set. */
  readonly metricsPort: number | undefined;
  /** Flushes and stops exporting; safe to call twice. */
  shutdown(): Promise<void>;
}

let active: Telemetry | undefined;

/**
 * Starts the OpenTelemetry SDK for `serviceName` (once per process; later calls return the
 * running instance).
 * @throws ConfigError when OTEL_EXPORTER_OTLP_ENDPOINT is set but not a URL, OTEL_SPANS_FILE is not an absolute path, or METRICS_PORT is not a port.
 */
export function startTelemetry(serviceName: string): Telemetry {
  if (active !== undefined) return active;
  const endpoint = env.url("OTEL_EXPORTER_OTLP_ENDPOINT", { default: "", protocols: ["http", "https"] });
  const tracesEndpoint = env.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", { default: "", protocols: ["http", "https"] });
  const spansFile = env.optionalString("OTEL_SPANS_FILE");
  if (spansFile !== undefined && !spansFile.startsWith("/")) {
    throw new ConfigError([
      { variable: "OTEL_SPANS_FILE", value: spansFile, message: `OTEL_SPANS_FILE=${JSON.stringify(spansFile)} is invalid: expected an absolute path` },
    ]);
  }
  const otlp = endpoint !== "" || tracesEndpoint !== "";
  // Prometheus pulls /metrics from its own port (not the gRPC one: scrapers speak HTTP/1.1),
  // bound to the service's listen address.
  const metricsPort = env.optionalString("METRICS_PORT") === undefined ? undefined : env.port("METRICS_PORT");
  const prometheus = metricsPort === undefined ? undefined : new PrometheusExporter({ host: env.string("HOST", { default: "127.0.0.1" }), port: metricsPort });
  // With spanProcessors given the SDK does not read OTEL_TRACES_EXPORTER, whose default
  // (otlp to localhost) would reach for the network.
  const spans =
    spansFile !== undefined
      ? { spanProcessors: [new tracing.SimpleSpanProcessor(new JsonLinesSpanExporter(spansFile, serviceName))] }
      : otlp
        ? {}
        : { spanProcessors: [] };
  const sdk = new NodeSDK({
    serviceName,
    instrumentations: [],
    // We log JSON lines to stderr; OTel logs are never exported.
    logRecordProcessors: [],
    ...spans,
    ...(otlp ? {} : { metricReaders: [], autoDetectResources: false }),
    ...(prometheus === undefined ? {} : { metricReaders: [prometheus] }),
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  const telemetry: Telemetry = {
    exporting: otlp || spansFile !== undefined,
    metricsPort,
    shutdown() {
      stopped ??= sdk.shutdown().finally(() => {
        if (active === telemetry) active = undefined;
      });
      return stopped;
    },
  };
  active = telemetry;
  return telemetry;
}

// Explicit W3C propagator rather than the global one, so event headers carry traceparent even
// in processes (tests, tools) that never started the SDK or configured other propagators.
const w3c = new W3CTraceContextPropagator();

const caseInsensitiveGetter: TextMapGetter<Readonly<Record<string, string>>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const exact = defaultTextMapGetter.get(carrier, key);
    if (exact !== undefined) return exact;
    const lower = key.toLowerCase();
    const found = Object.keys(carrier).find((k) => k.toLowerCase() === lower);
    return found === undefined ? undefined : carrier[found];
  },
};

/**
 * The active trace context (or `ctx`) as W3C headers (`traceparent`, and `tracestate` when
 * present) to put on an outgoing event; empty when there is no valid span context.
 */
export function injectTraceHeaders(ctx: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  w3c.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

/**
 * Runs `fn` with the trace context carried by an inbound event's headers (header names are
 * matched case-insensitively) as the active context, so spans and events it creates continue
 * the publisher's trace. Headers without a valid traceparent run `fn` in the current context.
 * Returns what fn returns; throws what fn throws.
 */
export function withExtractedTraceContext<T>(headers: Readonly<Record<string, string>>, fn: () => T): T {
  const extracted = w3c.extract(context.active(), headers, caseInsensitiveGetter);
  return context.with(extracted, fn);
}
