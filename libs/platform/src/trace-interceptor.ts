/**
 * A server span for every RPC, continuing the caller's W3C trace context (a `traceparent`
 * request header), so what a handler publishes joins the caller's trace: SubmitAnalysis's span
 * is the root of a job's trace, and every stage's event consumer is a descendant of it.
 * Health and reflection calls (probes every few seconds) get no span.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { injectTraceHeaders, withExtractedTraceContext } from "./telemetry.js";

// Looked up at each use, not once at import: the ESM build of @opentelemetry/api that this
// module loads and the CommonJS one the SDK registers through are two instances, and a tracer
// taken from the first before startTelemetry stays a no-op (the SDK's global is shared, the
// proxy that would later delegate to it is not).
function tracer() {
  return trace.getTracer("@vexxy/platform");
}

/** Creates the interceptor; install it outermost so it sees the error the caller gets. */
export function traceInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName.startsWith("grpc.")) return await next(req);
    const headers: Record<string, string> = {};
    req.header.forEach((value, key) => {
      headers[key] = value;
    });
    return await withExtractedTraceContext(headers, () =>
      tracer().startActiveSpan(
        `${req.service.typeName}/${req.method.name}`,
        { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name } },
        async (span) => {
          try {
            return await next(req);
          } catch (err) {
            const code = err instanceof ConnectError ? err.code : undefined;
            if (code !== undefined) span.setAttribute("rpc.connect_rpc.error_code", code);
            span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
            throw err;
          } finally {
            span.end();
          }
        },
      ),
    );
  };
}

/**
 * A client interceptor that sends the active trace context (`traceparent`) with every call, so
 * the server's span (traceInterceptor) is a child of the caller's.
 */
export function traceContextClientInterceptor(): Interceptor {
  return (next) => async (req) => {
    for (const [key, value] of Object.entries(injectTraceHeaders())) req.header.set(key, value);
    return await next(req);
  };
}
