/**
 * @vexxy/platform: the runtime every service shares: typed env config, the JSON-lines logger,
 * the RPC server (Connect + gRPC + gRPC-Web on one HTTP/2 port, with health and reflection),
 * graceful shutdown, telemetry with W3C trace-context helpers, and the error kinds with their
 * single mapping to ConnectError.
 *
 * Variables this package reads itself (services read theirs through `env` in their config.ts):
 *
 * | variable | default | meaning |
 * | --- | --- | --- |
 * | LOG_LEVEL | info | createLogger's level when none is passed: debug, info, warn, error |
 * | OTEL_EXPORTER_OTLP_ENDPOINT | (unset) | when set (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), startTelemetry exports spans over OTLP; unset, nothing is exported |
 * | OTEL_SPANS_FILE | (unset) | when set (an absolute path), startTelemetry appends every finished span to it as a JSON line instead |
 * | METRICS_PORT | (unset) | when set, startTelemetry serves the mesh's Prometheus metrics at http://HOST:METRICS_PORT/metrics |
 */
export {
  ConfigError,
  env,
  loadConfig,
  type BoolOptions,
  type ConfigProblem,
  type EnvSource,
  type IntOptions,
  type PortOptions,
  type StringOptions,
  type UrlOptions,
} from "./config.js";
export { LOG_LEVELS, createLogger, noopLogger, type LogFields, type LogLevel, type Logger, type LoggerOptions } from "./logger.js";
export {
  ConflictError,
  FailedPreconditionError,
  InvalidFieldError,
  NotFoundError,
  PermissionError,
  QuotaExceededError,
  UnavailableError,
  VexxyError,
  errorInterceptor,
  toConnectError,
  type VexxyErrorOptions,
} from "./errors.js";
export { HealthRegistry, OVERALL, ServingStatus, createHealthService } from "./health.js";
export {
  answerReflection,
  createReflectionIndex,
  createReflectionServiceV1,
  createReflectionServiceV1alpha,
  type ReflectionIndex,
} from "./reflection.js";
export { ServerStartError, startServer, type RunningServer, type ServerOptions } from "./server.js";
export { ShutdownManager, onShutdown, type Closer, type ShutdownOptions } from "./shutdown.js";
export { injectTraceHeaders, startTelemetry, withExtractedTraceContext, type Telemetry } from "./telemetry.js";
export { JsonLinesSpanExporter, type SpanRecord } from "./span-file-exporter.js";
export { traceContextClientInterceptor, traceInterceptor } from "./trace-interceptor.js";
export {
  observeQueueDepth,
  recordEventConsumed,
  recordJobFinished,
  recordJobSubmitted,
  recordStageFailure,
  recordTraceFinished,
  type QueueDepth,
  type TracedProfile,
} from "./mesh-metrics.js";
export { runServiceMain, type RunnableService } from "./service-main.js";
export { meshServiceEnv, type MeshServiceConfig } from "./mesh-config.js";
