import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/** Debian's `prometheus` package (installed by scripts/ensure-debian-package.sh (make test)). */
const PROMETHEUS_BIN = "/usr/bin/prometheus";
/** How long Prometheus may take to answer `/-/ready` (it is ~1 s on a warm machine). */
const READY_TIMEOUT_MS = 30_000;
/** How long Prometheus may take to exit on SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Bound of one HTTP call to the test server. */
const CALL_TIMEOUT_MS = 2_000;

/** A throwaway Prometheus server. */
export interface PrometheusServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops the server and removes its config and TSDB. */
  close(): Promise<void>;
}

/**
 * Starts the real Prometheus (`/usr/bin/prometheus`) on a free loopback port, scraping
 * `targets` (`host:port`, path `/metrics`) every `scrapeIntervalMs` (default 1 s), and resolves
 * once `/-/ready` answers 200. Call `close()` in `after`; a process exit hook kills a server
 * that was left running.
 */
export async function startPrometheus(o: {
  targets: string[];
  scrapeIntervalMs?: number;
}): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS_BIN))
    throw new Error(
      `${PROMETHEUS_BIN} is missing: run scripts/ensure-debian-package.sh (make test)`,
    );
  const interval = `${o.scrapeIntervalMs ?? 1000}ms`;
  const dir = await mkdtemp(join(tmpdir(), "promtest-"));
  const configFile = join(dir, "prometheus.yml");
  // JSON is YAML: no quoting questions for the targets.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      { job_name: "test", static_configs: [{ targets: o.targets }], metrics_path: "/metrics" },
    ],
  };
  await writeFile(configFile, JSON.stringify(config, null, 2));

  let lastErr: unknown;
  // The free port may be taken before Prometheus binds it: try a few.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const logFile = join(dir, `prometheus-${attempt}.log`);
    const logFd = openSync(logFile, "w");
    const child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-lifecycle",
        "--log.level=warn",
      ],
      { stdio: ["ignore", logFd, logFd] },
    );
    closeSync(logFd);
    const killSync = (): void => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", killSync);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(url, child, logFile);
    } catch (err) {
      lastErr = err;
      process.removeListener("exit", killSync);
      await stop(child);
      continue;
    }
    let closed = false;
    return {
      url,
      async close() {
        if (closed) return;
        closed = true;
        process.removeListener("exit", killSync);
        try {
          await stop(child);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}

/** Polls `/-/ready` until 200; fails early when the process exits (its log tail says why). */
async function waitReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const logTail = (): string => {
    try {
      return readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join("\n");
    } catch {
      return "";
    }
  };
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}): ${logTail()}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`prometheus was not ready within ${READY_TIMEOUT_MS} ms: ${logTail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL if it has not exited within {@link STOP_TIMEOUT_MS}. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Polls Prometheus's instant query API until `query` returns a sample whose value is `value`
 * (the scrape that carries a value set on an exporter has landed), or fails after `timeoutMs`.
 */
export async function waitForPrometheusValue(
  prometheusUrl: string,
  query: string,
  value: number,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const res = await fetch(
        `${prometheusUrl}/api/v1/query?${new URLSearchParams({ query }).toString()}`,
        { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
      );
      last = await res.text();
      const body = JSON.parse(last) as {
        data?: { resultType?: string; result?: { value?: [number, string] }[] };
      };
      if (
        body.data?.resultType === "vector" &&
        body.data.result?.some((s) => Number(s.value?.[1]) === value)
      )
        return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for prometheus to return ${value} for ${query}; last answer: ${last.slice(0, 300)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback `/metrics` endpoint serving gauges in the Prometheus text format. */
export interface MetricsExporter {
  /** `http://127.0.0.1:<port>/metrics`. */
  readonly url: string;
  /** `127.0.0.1:<port>`, a Prometheus scrape target. */
  readonly target: string;
  /** Sets (or adds) the gauge `name{labels}` served from now on. */
  set(name: string, labels: Record<string, string>, value: number): void;
  close(): Promise<void>;
}

/** Starts a {@link MetricsExporter} whose gauge values the test sets. */
export async function startExporter(): Promise<MetricsExporter> {
  // name → rendered label set → value
  const gauges = new Map<string, Map<string, number>>();
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const lines: string[] = [];
    for (const [name, series] of gauges) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [labels, value] of series) lines.push(`${name}${labels} ${formatValue(value)}`);
    }
    res
      .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
      .end(lines.join("\n") + "\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    target: `127.0.0.1:${port}`,
    set(name, labels, value) {
      const rendered = Object.entries(labels)
        .map(
          ([k, v]) =>
            `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
        )
        .join(",");
      let series = gauges.get(name);
      if (!series) gauges.set(name, (series = new Map<string, number>()));
      series.set(rendered ? `{${rendered}}` : "", value);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
