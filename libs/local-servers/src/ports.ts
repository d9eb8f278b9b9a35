/** Free TCP ports on loopback, for tests and the embedded stack. */
import { createServer } from "node:net";

/** Asks the kernel for a free port on 127.0.0.1 and releases it. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("could not read the listening port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
