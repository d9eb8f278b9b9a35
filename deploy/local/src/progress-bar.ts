/** A terminal progress bar for an analysis (cli-progress), or plain lines when not a TTY. */
import cliProgress from "cli-progress";

export interface AnalysisProgress {
  update(phase: string, percent: number, status: string): void;
  stop(): void;
}

/** Creates the progress display on stderr. */
export function createAnalysisProgress(): AnalysisProgress {
  if (!process.stderr.isTTY) {
    let last = "";
    return {
      update(phase, percent, status) {
        const line = `[${String(percent).padStart(3)}%] ${status.toLowerCase()} — ${phase.replaceAll("_", " ")}`;
        if (line !== last) process.stderr.write(`${line}\n`);
        last = line;
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: "{bar} {value}% | {status} | {phase}", stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { phase: "submitted", status: "QUEUED" });
  return {
    update(phase, percent, status) {
      bar.update(percent, { phase: phase.replaceAll("_", " "), status });
    },
    stop() {
      bar.stop();
    },
  };
}
