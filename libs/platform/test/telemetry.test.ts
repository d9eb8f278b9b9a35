import assert from "node:assert/strict";
import { ROOT_CONTEXT, context, trace, TraceFlags } from "@opentelemetry/api";
import { injectTraceHeaders, startTelemetry, withExtractedTraceContext } from "@vexxy/platform";

describe("telemetry", () => {
  it("starts without an OTLP endpoint without exporting, and carries W3C trace context through event headers", async () => {
    const saved = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"];
    delete process.env["OTEL_EXPORTER_OTLP_ENDPOINT"];
    const telemetry = startTelemetry("platform-test");
    try {
      assert.equal(telemetry.exporting, false);
      assert.deepEqual(injectTraceHeaders(), {}, "no active span, no traceparent");

      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const spanId = "00f067aa0ba902b7";
      const publisher = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false });
      const headers = context.with(publisher, () => injectTraceHeaders());
      assert.equal(headers["traceparent"], `00-${traceId}-${spanId}-01`);

      // A consumer sees the publisher's trace across an await, with header names in any case.
      const seen = await withExtractedTraceContext({ TraceParent: headers["traceparent"] ?? "" }, async () => {
        await new Promise((r) => setTimeout(r, 5));
        return trace.getSpanContext(context.active());
      });
      assert.equal(seen?.traceId, traceId);
      assert.equal(seen?.spanId, spanId);
      assert.equal(seen?.isRemote, true);

      assert.equal(
        withExtractedTraceContext({ traceparent: "garbage" }, () => trace.getSpanContext(context.active())),
        undefined,
      );
    } finally {
      await telemetry.shutdown();
      if (saved !== undefined) process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = saved;
    }
  });
});
