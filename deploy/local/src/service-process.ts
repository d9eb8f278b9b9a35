/**
 * One mesh service as a child process (`node --import tsx services/<name>/src/main.ts`), with
 * its output kept in a log file, so the embedded stack (and the crash tests) can kill and
 * restart any service on its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";

export const SERVICE_NAMES = ["orchestrator", "sandbox", "profiler", "reachability", "vex"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceProcessOptions {
  readonly name: ServiceName;
  readonly repoRoot: string;
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
}

export class ServiceProcess {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private exitPromise: Promise<void> = Promise.resolve();

  constructor(private readonly options: ServiceProcessOptions) {}

  get name(): ServiceName {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the service; output is appended to the log file. */
  start(): void {
    if (this.running) throw new Error(`${this.options.name} is already running`);
    this.log = createWriteStream(this.options.logFile, { flags: "a" });
    const main = join(this.options.repoRoot, "services", this.options.name, "src", "main.ts");
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      cwd: this.options.repoRoot,
      env: { ...process.env, ...this.options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.exitPromise = once(child, "exit").then(() => undefined);
  }

  /** Sends a signal (SIGKILL simulates a crash) and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.running) return;
    this.child?.kill(signal);
    await this.exitPromise;
  }

  /** SIGTERM (graceful shutdown), escalating to SIGKILL after graceMs. */
  async stop(graceMs = 15000): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
    this.log?.end();
  }

  /** Resolves when the process exits by itself. */
  exited(): Promise<void> {
    return this.exitPromise;
  }
}
