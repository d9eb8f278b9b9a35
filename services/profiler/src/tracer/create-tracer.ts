/**
 * The tracer factory: the one place that turns TRACER into an implementation of the Tracer
 * seam (the composition root calls it; handlers only see the interface).
 */
import type { ProfilerConfig } from "../config.js";
import { BpftraceTracer } from "./bpftrace-tracer.js";
import { StraceTracer } from "./strace-tracer.js";
import type { Tracer } from "./tracer.js";

/** How long stop() waits for a tracer to hand over its records. */
const STOP_TIMEOUT_MS = 30000;

/** Builds the tracer TRACER names. */
export function createTracer(config: Pick<ProfilerConfig, "tracer" | "bpftracePath" | "stracePath" | "mapKeysMax">): Tracer {
  switch (config.tracer) {
    case "strace":
      return new StraceTracer({ stracePath: config.stracePath, stopTimeoutMs: STOP_TIMEOUT_MS });
    case "bpftrace":
      return new BpftraceTracer({ bpftracePath: config.bpftracePath, mapKeysMax: config.mapKeysMax, stopTimeoutMs: STOP_TIMEOUT_MS });
  }
}
