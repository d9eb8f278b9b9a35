/** What the ledger and openOrm report (a pino-style or console logger adapts in one line). */
export interface LedgerLogger {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Writes one JSON line per message to stderr; the default when no logger is given. */
export const stderrLedgerLogger: LedgerLogger = {
  info(message, fields) {
    process.stderr.write(`${JSON.stringify({ level: "info", time: new Date().toISOString(), component: "ledger", msg: message, ...fields })}\n`);
  },
};
