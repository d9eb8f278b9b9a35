/**
 * In-process change notifications for WatchAnalysis: a waiter wakes as soon as this process
 * changes the job, and otherwise re-reads Postgres at a short interval (changes made by
 * another replica are seen that way).
 */
import { EventEmitter } from "node:events";

export class JobWatchHub {
  private readonly emitter = new EventEmitter();
  private closedFlag = false;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Whether the service is shutting down: open watches end instead of waiting. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Wakes every waiter and makes open watches end (called first on shutdown). */
  close(): void {
    this.closedFlag = true;
    for (const name of this.emitter.eventNames()) this.emitter.emit(name);
  }

  /** Tells waiters of jobId that it changed. */
  notify(jobId: string): void {
    this.emitter.emit(jobId);
  }

  /** Resolves on the next change of jobId, after timeoutMs, or when signal aborts. */
  async waitForChange(jobId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.emitter.off(jobId, done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.once(jobId, done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
