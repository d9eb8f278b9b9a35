/**
 * A tiny structured logger: one JSON object per line on stderr (stdout stays free for a CLI's
 * output), with time, level, service and msg first, then traceId and spanId when a span is
 * active (a job's events carry its trace), and the caller's fields after them.
 */
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { env } from "./config.js";

/** Levels in increasing severity. */
export const LOG_LEVELS = Object.freeze(["debug", "info", "warn", "error"] as const);

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra structured data for a log line. Errors are written as {name, message, stack, cause}. */
export type LogFields = Readonly<Record<string, unknown>>;

/** What every part of the mesh logs through. */
export interface Logger {
  /** The lowest level this logger writes. */
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (call fields win over them). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lowest level written; defaults to LOG_LEVEL from the environment, else "info". */
  readonly level?: LogLevel | string;
  /** Where each line goes (without its newline); defaults to process.stderr. */
  readonly write?: (line: string) => void;
  /** Fields on every line. */
  readonly fields?: LogFields;
}

const RESERVED = new Set(["time", "level", "service", "msg", "traceId", "spanId"]);

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

function errorToJson(error: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  if (error.stack !== undefined) out["stack"] = error.stack;
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out["code"] = code;
  if (error.cause !== undefined && depth < 4) out["cause"] = error.cause instanceof Error ? errorToJson(error.cause, depth + 1) : String(error.cause);
  return out;
}

function serialize(record: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(record, (_key, value: unknown) => {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Error) return errorToJson(value, 0);
    if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
    if (value !== null && typeof value === "object") {
      if (seen.has(value)) return "[Circular]";
      seen.add(value);
    }
    return value;
  });
}

class JsonLogger implements Logger {
  readonly level: LogLevel;
  readonly #threshold: number;

  constructor(
    readonly service: string,
    level: LogLevel,
    private readonly fields: LogFields,
    private readonly write: (line: string) => void,
  ) {
    this.level = level;
    this.#threshold = LOG_LEVELS.indexOf(level);
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.service, this.level, { ...this.fields, ...fields }, this.write);
  }

  private log(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (LOG_LEVELS.indexOf(level) < this.#threshold) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, service: this.service, msg };
    // The active span's ids, so a line can be joined to its job's trace (traceId) across services.
    const span = trace.getActiveSpan()?.spanContext();
    if (span !== undefined && isSpanContextValid(span)) {
      record["traceId"] = span.traceId;
      record["spanId"] = span.spanId;
    }
    for (const source of [this.fields, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) {
        // The leading keys identify the line; a field may not overwrite them.
        record[RESERVED.has(key) ? `field.${key}` : key] = value;
      }
    }
    let line: string;
    try {
      line = serialize(record);
    } catch (err) {
      line = serialize({ time: record["time"], level, service: this.service, msg, logError: String(err) });
    }
    this.write(line);
  }
}

/**
 * Creates the logger of `service`.
 * @throws TypeError when `options.level` is not a log level; ConfigError when LOG_LEVEL is.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? env.oneOf("LOG_LEVEL", LOG_LEVELS, "info");
  if (!isLogLevel(level)) throw new TypeError(`log level must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(level)})`);
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  return new JsonLogger(service, level, options.fields ?? {}, write);
}

/** A logger that writes nothing, for tests and optional collaborators. */
export const noopLogger: Logger = Object.freeze({
  level: "error" as const,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => noopLogger,
});
