/**
 * A span exporter that appends each finished span as one JSON line to a file: the collector-less
 * way to see a job's whole trace (OTEL_SPANS_FILE, one file per service process), used by the
 * cross-service tracing test and handy on a single host. Lines are appended synchronously when
 * a span ends, so a crash loses no span that had ended.
 */
import { appendFileSync } from "node:fs";
import { SpanKind } from "@opentelemetry/api";
import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from "@opentelemetry/core";
import type { tracing } from "@opentelemetry/sdk-node";

/** One line of the file. */
export interface SpanRecord {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Absent on a root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  /** SpanKind's name: INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER. */
  readonly kind: string;
  /** Microseconds since the epoch. */
  readonly startUs: number;
  readonly durationUs: number;
  /** "UNSET", "OK" or "ERROR", with the message of an error status. */
  readonly status: string;
  readonly statusMessage?: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Writes finished spans of `service` to `file` as JSON lines. */
export class JsonLinesSpanExporter implements tracing.SpanExporter {
  #stopped = false;

  constructor(
    private readonly file: string,
    private readonly service: string,
  ) {}

  /** Appends the spans; reports failure (never throws) when the file cannot be written. */
  export(spans: tracing.ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error("the span file exporter is shut down") });
      return;
    }
    try {
      const lines = spans.map((span) => `${JSON.stringify(this.#record(span))}\n`).join("");
      appendFileSync(this.file, lines);
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  /** Stops exporting; later spans are refused. */
  shutdown(): Promise<void> {
    this.#stopped = true;
    return Promise.resolve();
  }

  /** Nothing is buffered. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  #record(span: tracing.ReadableSpan): SpanRecord {
    const context = span.spanContext();
    const parent = span.parentSpanContext?.spanId;
    const status = ["UNSET", "OK", "ERROR"][span.status.code] ?? "UNSET";
    return {
      service: this.service,
      traceId: context.traceId,
      spanId: context.spanId,
      ...(parent === undefined ? {} : { parentSpanId: parent }),
      name: span.name,
      kind: SpanKind[span.kind] ?? "INTERNAL",
      startUs: hrTimeToMicroseconds(span.startTime),
      durationUs: hrTimeToMicroseconds(span.duration),
      status,
      ...(span.status.message === undefined ? {} : { statusMessage: span.status.message }),
      attributes: { ...span.attributes },
    };
  }
}
