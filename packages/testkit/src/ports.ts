import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it for port 0). Another
 * process may still take it before the caller binds, so callers that can should retry.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      server.close((err) =>
        err ? reject(err) : port > 0 ? resolve(port) : reject(new Error("no port assigned")),
      );
    });
  });
}
