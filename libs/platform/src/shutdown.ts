/**
 * Process shutdown for a service's main.ts: closers registered in start-up order run in reverse
 * order on SIGTERM or SIGINT (server first, then consumers, bus, database, telemetry last if it
 * was registered first), all within one deadline. The process then exits 0, or 1 when a closer
 * failed or the deadline passed. A second signal during shutdown exits 1 at once.
 */
import { createLogger, type Logger } from "./logger.js";

/** Closes one resource; may be sync or async. */
export type Closer = () => Promise<void> | void;

export interface ShutdownOptions {
  /** Deadline for all closers together (default 30000 ms). */
  readonly timeoutMs?: number;
  /** Signals that start shutdown (default SIGTERM and SIGINT). */
  readonly signals?: readonly NodeJS.Signals[];
  /** Ends the process (default process.exit); tests replace it. */
  readonly exit?: (code: number) => void;
  /** Install the signal handlers now (default true). */
  readonly installSignalHandlers?: boolean;
}

interface Registered {
  readonly name: string;
  readonly close: Closer;
}

/** Runs registered closers in reverse order on a signal, within a deadline, then exits. */
export class ShutdownManager {
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #signals: readonly NodeJS.Signals[];
  readonly #exit: (code: number) => void;
  readonly #closers: Registered[] = [];
  readonly #onSignal = (signal: NodeJS.Signals): void => this.#handleSignal(signal);
  #running: Promise<number> | undefined;
  #installed = false;

  constructor(logger: Logger, options: ShutdownOptions = {}) {
    this.#logger = logger.child({ component: "shutdown" });
    this.#timeoutMs = options.timeoutMs ?? 30000;
    this.#signals = options.signals ?? ["SIGTERM", "SIGINT"];
    this.#exit = options.exit ?? ((code) => process.exit(code));
    if (options.installSignalHandlers ?? true) this.install();
  }

  /** Adds a closer; closers run in the reverse of their registration order. */
  register(name: string, close: Closer): void {
    this.#closers.push({ name, close });
  }

  /** Installs the signal handlers (done by the constructor unless told otherwise). */
  install(): void {
    if (this.#installed) return;
    this.#installed = true;
    for (const signal of this.#signals) process.on(signal, this.#onSignal);
  }

  /** Removes the signal handlers. */
  uninstall(): void {
    if (!this.#installed) return;
    this.#installed = false;
    for (const signal of this.#signals) process.off(signal, this.#onSignal);
  }

  /**
   * Runs every closer in reverse order (once; later calls return the same result) and resolves
   * with the exit code: 0 when all closed in time, 1 when one threw or the deadline passed.
   * Does not exit the process. Never rejects.
   */
  run(reason: string): Promise<number> {
    this.#running ??= this.#runClosers(reason);
    return this.#running;
  }

  async #runClosers(reason: string): Promise<number> {
    this.#logger.info("shutting down", { reason, closers: this.#closers.length, timeoutMs: this.#timeoutMs });
    const deadline = Date.now() + this.#timeoutMs;
    let code = 0;
    for (const { name, close } of [...this.#closers].reverse()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#logger.error("shutdown deadline passed; not closing", { closer: name });
        code = 1;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left)));
      try {
        const outcome = await Promise.race([Promise.resolve().then(close), timedOut]);
        if (outcome === "timeout") {
          this.#logger.error("closer did not finish before the shutdown deadline", { closer: name });
          code = 1;
        } else {
          this.#logger.debug("closed", { closer: name });
        }
      } catch (err) {
        this.#logger.error("closer failed", { closer: name, error: err });
        code = 1;
      } finally {
        clearTimeout(timer);
      }
    }
    this.#logger.info("shutdown complete", { exitCode: code });
    return code;
  }

  #handleSignal(signal: NodeJS.Signals): void {
    if (this.#running !== undefined) {
      this.#logger.warn("second signal during shutdown; exiting now", { signal });
      this.#exit(1);
      return;
    }
    void this.run(signal).then((code) => this.#exit(code));
  }
}

let defaultManager: ShutdownManager | undefined;

/**
 * Registers a closer with the process-wide ShutdownManager, created (with signal handlers and a
 * "shutdown" logger) on first use.
 */
export function onShutdown(name: string, close: Closer, logger?: Logger): ShutdownManager {
  defaultManager ??= new ShutdownManager(logger ?? createLogger("shutdown"));
  defaultManager.register(name, close);
  return defaultManager;
}
