/**
 * The attempts this process is running now, by job. A cancel (event or TeardownSandbox) marks
 * an attempt cancelled and tears its container down; the run that owns it sees the mark at its
 * next step and ends without publishing a result. With replicas each process knows only its own
 * attempts, so every sandbox process receives every analysis.cancelled on its own fan-out
 * consumer (events/analysis-consumer.ts) and tears down what it runs.
 */

/** One running attempt. */
export interface LiveAttempt {
  readonly jobId: string;
  readonly attempt: number;
  readonly containerId: string;
  /** Set once the container exists (create returned). */
  created: boolean;
  /** Set by cancel(); the run checks it after every step. */
  cancelled: boolean;
  cancelReason: string;
  /** Aborted by cancel(): stops the driver's create (image intake) early. */
  readonly abort: AbortController;
}

/** The registry. */
export class LiveAttempts {
  private readonly byKey = new Map<string, LiveAttempt>();

  /** Registers an attempt; returns it. */
  add(jobId: string, attempt: number, containerId: string): LiveAttempt {
    const live: LiveAttempt = { jobId, attempt, containerId, created: false, cancelled: false, cancelReason: "", abort: new AbortController() };
    this.byKey.set(key(jobId, attempt), live);
    return live;
  }

  remove(live: LiveAttempt): void {
    if (this.byKey.get(key(live.jobId, live.attempt)) === live) this.byKey.delete(key(live.jobId, live.attempt));
  }

  get(jobId: string, attempt: number): LiveAttempt | undefined {
    return this.byKey.get(key(jobId, attempt));
  }

  /** The live attempts of a job. */
  ofJob(jobId: string): LiveAttempt[] {
    return [...this.byKey.values()].filter((l) => l.jobId === jobId);
  }

  all(): LiveAttempt[] {
    return [...this.byKey.values()];
  }
}

function key(jobId: string, attempt: number): string {
  return `${jobId}\u0000${attempt}`;
}
