/** The little a blob store needs to report (a pino-style or console logger adapts in one line). */
export interface BlobStoreLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Writes one JSON line per message to stderr; the default when no logger is given. */
export const stderrLogger: BlobStoreLogger = {
  warn(message, fields) {
    process.stderr.write(`${JSON.stringify({ level: "warn", time: new Date().toISOString(), component: "blobstore", msg: message, ...fields })}\n`);
  },
};
