import { createServer, type Server } from "node:http";
import type { Logger, Service } from "@pipecd-ts/runtime";

/** One counter family: its name, help text and the current values by label set. */
export interface CounterFamily {
  name: string;
  help: string;
  /** Each sample: its labels and value. */
  samples(): { labels: Record<string, string>; value: number }[];
}

/** Prometheus' text format of counter families. */
export function renderMetrics(families: readonly CounterFamily[]): string {
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} counter\n`;
    for (const s of f.samples()) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",");
      out += `${f.name}${labels ? `{${labels}}` : ""} ${s.value}\n`;
    }
  }
  return out;
}

/**
 * The piped's admin server (PipeCD's `--admin-port`): `GET /healthz` and `GET /metrics` (the
 * Prometheus text format) on loopback or the given host; nothing else, and nothing secret.
 */
export class AdminServer implements Service {
  readonly name = "admin";
  private server: Server | undefined;

  constructor(
    private readonly o: {
      port: number;
      host: string;
      metrics: () => readonly CounterFamily[];
      logger: Logger;
      /** Told the port once listening (0 picks a free one). */
      onListening?: (port: number) => void;
    },
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const server = createServer((req, res) => {
      if (req.method !== "GET") return void res.writeHead(405).end();
      if (req.url === "/healthz")
        return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      if (req.url === "/metrics")
        return void res
          .writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
          .end(renderMetrics(this.o.metrics()));
      res.writeHead(404).end();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : this.o.port;
    this.o.logger.info({ port }, "admin server listening (/healthz, /metrics)");
    this.o.onListening?.(port);
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
