import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  runCommand,
  startExporter,
  startPrometheus,
  waitForPrometheusValue,
  type MetricsExporter,
  type PrometheusServer,
} from "@pipecd-ts/testkit";
import { NoDataError } from "../src/types.js";
import { PrometheusProvider, prometheusProviderFromConfig } from "../src/providers/prometheus.js";
import { DatadogProvider, datadogProviderFromConfig } from "../src/providers/datadog.js";
import { httpCheck } from "../src/providers/http.js";

const METRIC = "analysis_test_error_rate";
const CANARY = 1.5;
const PRIMARY = 2.5;

/** A request a loopback server received. */
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
}

/** A loopback HTTP(S) server that records every request and answers with `handler`. */
async function loopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: { key: string; cert: string },
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const listener: RequestListener = (req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    seen.push({
      method: req.method ?? "",
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
    });
    handler(req, res);
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A server that accepts requests and never answers them. */
const hang = (): void => undefined;

const opts = (timeoutMs = 5_000) => ({ signal: new AbortController().signal, timeoutMs });

// One real Prometheus for the file, started first: its first scrape takes ~5 s, during which the
// loopback suites run; the suite that queries it comes last.
let exporter: MetricsExporter;
let prom: PrometheusServer;
before(async () => {
  exporter = await startExporter();
  exporter.set(METRIC, { variant: "canary" }, CANARY);
  exporter.set(METRIC, { variant: "primary" }, PRIMARY);
  exporter.set("analysis_test_nan", {}, NaN);
  prom = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 500 });
});
after(async () => {
  await prom?.close();
  await exporter?.close();
});

describe("PrometheusProvider requests (loopback server checking them)", () => {
  const range = { from: new Date(1_700_000_000_000), to: new Date(1_700_000_300_500) };

  it("sends a GET query_range with start, end and a step of min(1 m, window)", async () => {
    const srv = await loopback((_req, res) =>
      json(res, 200, {
        status: "success",
        data: { resultType: "scalar", result: [1_700_000_000.25, "3"] },
      }),
    );
    try {
      const p = new PrometheusProvider({ address: `${srv.url}/prom/` });
      assert.deepEqual(await p.query("up", range, opts()), [
        { timestamp: 1_700_000_000_250, value: 3 },
      ]);
      await p.query("up", { from: range.from, to: new Date(range.from.getTime() + 1_500) }, opts());
      await p.query("up", { from: range.from, to: range.from }, opts());
      assert.deepEqual(
        srv.seen.map((s) => [s.method, s.path, Object.fromEntries(s.query)]),
        [
          [
            "GET",
            "/prom/api/v1/query_range",
            { query: "up", start: "1700000000", end: "1700000300.5", step: "60" },
          ],
          [
            "GET",
            "/prom/api/v1/query_range",
            { query: "up", start: "1700000000", end: "1700000001.5", step: "1.5" },
          ],
          [
            "GET",
            "/prom/api/v1/query_range",
            { query: "up", start: "1700000000", end: "1700000000", step: "1" },
          ],
        ],
      );
      assert.equal(srv.seen[0]?.headers.authorization, undefined);
    } finally {
      await srv.close();
    }
  });

  it("a vector gives one point per sample; a series without values is no data", async () => {
    let answer: unknown;
    const srv = await loopback((_req, res) => json(res, 200, answer));
    try {
      const p = new PrometheusProvider({ address: srv.url });
      answer = {
        status: "success",
        data: {
          resultType: "vector",
          result: [
            { metric: { a: "1" }, value: [1_700_000_000, "1"] },
            { metric: { a: "2" }, value: [1_700_000_000, "2"] },
          ],
        },
      };
      assert.deepEqual(
        (await p.query("q", range, opts())).map((x) => x.value),
        [1, 2],
      );
      answer = {
        status: "success",
        data: { resultType: "matrix", result: [{ metric: { a: "1" }, values: [] }] },
      };
      await assert.rejects(p.query("q", range, opts()), NoDataError);
    } finally {
      await srv.close();
    }
  });

  it("sends basic auth from trimmed files, and a 401 never shows the credentials", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prom-auth-"));
    const srv = await loopback((req, res) =>
      // A hostile proxy echoing what it got must not make the error carry it.
      json(res, 401, {
        status: "error",
        errorType: "unauthorized",
        error: `rejected ${req.headers.authorization ?? ""} (user alice, password s3cr3t-pw)`,
      }),
    );
    try {
      await writeFile(join(dir, "user"), "alice\n");
      await writeFile(join(dir, "pass"), "  s3cr3t-pw\n");
      const p = await prometheusProviderFromConfig({
        address: srv.url,
        usernameFile: join(dir, "user"),
        passwordFile: join(dir, "pass"),
      });
      await assert.rejects(p.query("up", range, opts()), (err: Error) => {
        assert.match(err.message, /^prometheus query failed \(HTTP 401\): unauthorized: rejected/);
        assert.doesNotMatch(err.message, /s3cr3t-pw|alice/);
        assert.ok(!err.message.includes(Buffer.from("alice:s3cr3t-pw").toString("base64")));
        return true;
      });
      assert.equal(
        srv.seen[0]?.headers.authorization,
        `Basic ${Buffer.from("alice:s3cr3t-pw").toString("base64")}`,
      );

      // Only a username: no basic auth (PipeCD needs both).
      await new PrometheusProvider({ address: srv.url, username: "alice" })
        .query("up", range, opts())
        .catch(() => undefined);
      assert.equal(srv.seen[1]?.headers.authorization, undefined);

      await writeFile(join(dir, "token"), "tok-123\n");
      const bearer = await prometheusProviderFromConfig({
        address: srv.url,
        tokenFile: join(dir, "token"),
      });
      await assert.rejects(bearer.query("up", range, opts()), (err: Error) => {
        assert.doesNotMatch(err.message, /tok-123/);
        return true;
      });
      assert.equal(srv.seen[2]?.headers.authorization, "Bearer tok-123");
    } finally {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a server that never answers fails with 'timed out' after the timeout", async () => {
    const srv = await loopback(hang);
    try {
      const p = new PrometheusProvider({ address: srv.url });
      const t0 = Date.now();
      await assert.rejects(p.query("up", range, opts(300)), {
        message: "prometheus query timed out after 0.3 s",
      });
      const took = Date.now() - t0;
      assert.ok(took >= 290 && took < 1_500, `took ${took} ms`);
    } finally {
      await srv.close();
    }
  });

  it("the caller's abort stops a query at once with the caller's reason", async () => {
    const srv = await loopback(hang);
    try {
      const p = new PrometheusProvider({ address: srv.url });
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(new Error("stage cancelled")), 100);
      await assert.rejects(p.query("up", range, { signal: ac.signal, timeoutMs: 10_000 }), {
        message: "stage cancelled",
      });
      assert.ok(Date.now() - t0 < 1_500);
    } finally {
      await srv.close();
    }
  });
});

describe("DatadogProvider (loopback server checking the requests)", () => {
  const range = { from: new Date(1_700_000_000_900), to: new Date(1_700_000_060_100) };
  const keys = { apiKey: "dd-api-0123", applicationKey: "dd-app-4567" };

  it("sends GET /api/v1/query with from/to in seconds and both keys; points are flattened, nulls skipped", async () => {
    const srv = await loopback((_req, res) =>
      json(res, 200, {
        status: "ok",
        res_type: "time_series",
        series: [
          {
            metric: "a",
            pointlist: [
              [1_700_000_000_000, 1],
              [1_700_000_010_000, null],
              [1_700_000_020_000, 3],
            ],
          },
          { metric: "b", pointlist: [[1_700_000_000_000, 0.5]] },
        ],
      }),
    );
    try {
      const p = new DatadogProvider({ address: srv.url, ...keys });
      const q = "avg:http.errors{variant:canary}";
      assert.deepEqual(await p.query(q, range, opts()), [
        { timestamp: 1_700_000_000_000, value: 1 },
        { timestamp: 1_700_000_020_000, value: 3 },
        { timestamp: 1_700_000_000_000, value: 0.5 },
      ]);
      const s = srv.seen[0];
      assert.equal(s?.method, "GET");
      assert.equal(s?.path, "/api/v1/query");
      assert.deepEqual(Object.fromEntries(s?.query ?? []), {
        from: "1700000000",
        to: "1700000060",
        query: q,
      });
      assert.equal(s?.headers["dd-api-key"], keys.apiKey);
      assert.equal(s?.headers["dd-application-key"], keys.applicationKey);
    } finally {
      await srv.close();
    }
  });

  it("no series, or a series with an empty pointlist, is no data", async () => {
    let answer: unknown;
    const srv = await loopback((_req, res) => json(res, 200, answer));
    try {
      const p = new DatadogProvider({ address: srv.url, ...keys });
      answer = { status: "ok", series: [] };
      await assert.rejects(p.query("q", range, opts()), NoDataError);
      answer = { status: "ok", series: [{ metric: "a", pointlist: [] }] };
      await assert.rejects(p.query("q", range, opts()), NoDataError);
    } finally {
      await srv.close();
    }
  });

  it("a 403 fails with Datadog's errors text and never the keys", async () => {
    const srv = await loopback((req, res) =>
      json(res, 403, { errors: ["Forbidden", `bad key ${String(req.headers["dd-api-key"])}`] }),
    );
    try {
      const p = new DatadogProvider({ address: srv.url, ...keys });
      await assert.rejects(p.query("q", range, opts()), (err: Error) => {
        assert.match(err.message, /^datadog query failed \(HTTP 403\): Forbidden; bad key \*\*\*$/);
        assert.doesNotMatch(err.message, /dd-api-0123|dd-app-4567/);
        return true;
      });
    } finally {
      await srv.close();
    }
  });

  it("reads key files trimmed and *Data as base64, not trimmed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dd-keys-"));
    const srv = await loopback((_req, res) =>
      json(res, 200, { status: "ok", series: [{ pointlist: [[1_700_000_000_000, 1]] }] }),
    );
    try {
      await writeFile(join(dir, "api"), "file-api-key\n");
      const p = await datadogProviderFromConfig({
        address: srv.url,
        apiKeyFile: join(dir, "api"),
        applicationKeyData: Buffer.from("data-app-key").toString("base64"),
      });
      await p.query("q", range, opts());
      assert.equal(srv.seen[0]?.headers["dd-api-key"], "file-api-key");
      assert.equal(srv.seen[0]?.headers["dd-application-key"], "data-app-key");
      await assert.rejects(
        datadogProviderFromConfig({ apiKeyData: "a", applicationKeyData: "bm90LWJhc2U2NA==" }),
        /apiKeyData is not valid base64/,
      );
      await assert.rejects(
        datadogProviderFromConfig({
          apiKeyFile: join(dir, "api"),
          apiKeyData: "eA==",
          applicationKeyData: "eA==",
        }),
        /set only one of apiKeyFile and apiKeyData/,
      );
    } finally {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a server that never answers fails with 'timed out'", async () => {
    const srv = await loopback(hang);
    try {
      const p = new DatadogProvider({ address: srv.url, ...keys });
      await assert.rejects(p.query("q", range, opts(200)), {
        message: "datadog query timed out after 0.2 s",
      });
    } finally {
      await srv.close();
    }
  });
});

describe("httpCheck", () => {
  let srv: Awaited<ReturnType<typeof loopback>>;
  before(async () => {
    srv = await loopback((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path === "/hang") return;
      if (path === "/unavailable") res.writeHead(503).end("down");
      else if (path === "/big") res.writeHead(200).end(Buffer.alloc(3 << 20, 0x61));
      else res.writeHead(200).end("ok");
    });
  });
  after(async () => srv?.close());

  it("passes on the expected status (0 means 200) and fails on another", async () => {
    assert.deepEqual(await httpCheck({ url: `${srv.url}/ok`, expectedCode: 0 }), {
      ok: true,
      reason: "status code 200 as expected",
      status: 200,
    });
    assert.deepEqual(await httpCheck({ url: `${srv.url}/unavailable`, expectedCode: 200 }), {
      ok: false,
      reason: "unexpected status code 503",
      status: 503,
    });
    const r = await httpCheck({ url: `${srv.url}/unavailable`, expectedCode: 503 });
    assert.equal(r.ok, true);
    assert.equal((await httpCheck({ url: `${srv.url}/big` })).ok, true);
  });

  it("sends the method and headers, a repeated key keeping its last value", async () => {
    const before = srv.seen.length;
    await httpCheck({
      url: `${srv.url}/ok`,
      method: "HEAD",
      headers: [
        { key: "X-Check", value: "first" },
        { key: "x-check", value: "last" },
        { key: "Authorization", value: "Bearer t" },
      ],
    });
    const s = srv.seen[before];
    assert.equal(s?.method, "HEAD");
    assert.equal(s?.headers["x-check"], "last");
    assert.equal(s?.headers.authorization, "Bearer t");
  });

  it("a hung server or a refused connection fails with the reason", async () => {
    const t0 = Date.now();
    assert.deepEqual(await httpCheck({ url: `${srv.url}/hang`, timeoutMs: 300 }), {
      ok: false,
      reason: "http check timed out after 0.3 s",
    });
    assert.ok(Date.now() - t0 < 1_500);
    const closed = await loopback(hang);
    await closed.close();
    const refused = await httpCheck({ url: `${closed.url}/ok` });
    assert.equal(refused.ok, false);
    assert.match(refused.reason, /^http check failed: connect ECONNREFUSED/);
  });

  it("https with a self-signed certificate passes only with insecureSkipVerify", async (t) => {
    if ((await runCommand("openssl", ["version"]).catch(() => ({ code: 1 }))).code !== 0) {
      t.skip("openssl is not installed: cannot make a self-signed certificate");
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), "http-tls-"));
    try {
      const gen = await runCommand(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-subj",
          "/CN=localhost",
          "-days",
          "1",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { timeoutMs: 30_000 },
      );
      assert.equal(gen.code, 0, gen.stderr);
      assert.ok(existsSync(join(dir, "cert.pem")));
      const tls = await loopback((_req, res) => res.writeHead(204).end(), {
        key: await readFile(join(dir, "key.pem"), "utf8"),
        cert: await readFile(join(dir, "cert.pem"), "utf8"),
      });
      try {
        const strict = await httpCheck({ url: tls.url, expectedCode: 204 });
        assert.equal(strict.ok, false);
        assert.match(strict.reason, /self-signed certificate/);
        assert.deepEqual(
          await httpCheck({ url: tls.url, expectedCode: 204, insecureSkipVerify: true }),
          {
            ok: true,
            reason: "status code 204 as expected",
            status: 204,
          },
        );
        // The skip was for that call only.
        assert.equal((await httpCheck({ url: tls.url, expectedCode: 204 })).ok, false);
      } finally {
        await tls.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the caller's abort rejects instead of reporting a failure", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stage terminated")), 50);
    await assert.rejects(httpCheck({ url: `${srv.url}/hang`, signal: ac.signal }), {
      message: "stage terminated",
    });
  });
});

describe("PrometheusProvider against a real Prometheus", () => {
  let provider: PrometheusProvider;
  /** A moment at which Prometheus had scraped every value set in `before`. */
  let scrapedAt: number;

  before(async () => {
    // Prometheus 2.42 syncs its scrape targets every 5 s: the first scrape lands ~5 s after start.
    await waitForPrometheusValue(prom.url, `${METRIC}{variant="canary"}`, CANARY, 15_000);
    await waitForPrometheusValue(prom.url, `${METRIC}{variant="primary"}`, PRIMARY, 15_000);
    await waitForPrometheusValue(prom.url, "count(analysis_test_nan)", 1, 15_000);
    scrapedAt = Date.now();
    provider = new PrometheusProvider({ address: prom.url });
  });

  it("a range query returns every sample of every series, flattened", async () => {
    // A 2 s window is queried with a 2 s step: two evaluations per series.
    const from = new Date(scrapedAt);
    const to = new Date(scrapedAt + 2_000);
    const points = await provider.query(METRIC, { from, to }, opts());
    assert.equal(points.length, 4);
    assert.deepEqual(points.map((p) => p.value).sort(), [CANARY, CANARY, PRIMARY, PRIMARY]);
    assert.deepEqual([...new Set(points.map((p) => p.timestamp))].sort(), [
      from.getTime(),
      to.getTime(),
    ]);
    const canary = await provider.query(`${METRIC}{variant="canary"}`, { from, to }, opts());
    assert.deepEqual(
      canary.map((p) => p.value),
      [CANARY, CANARY],
    );
  });

  it("a scalar query over a window shorter than a second gives one point", async () => {
    const from = new Date(scrapedAt);
    const to = new Date(scrapedAt + 500);
    assert.deepEqual(await provider.query("1+1", { from, to }, opts()), [
      { timestamp: from.getTime(), value: 2 },
    ]);
    const scalar = await provider.query(
      `scalar(${METRIC}{variant="primary"})`,
      { from, to },
      opts(),
    );
    assert.deepEqual(
      scalar.map((p) => p.value),
      [PRIMARY],
    );
  });

  it("a query matching no series gives no points", async () => {
    const to = new Date();
    const points = await provider.query(
      `${METRIC}{variant="baseline"}`,
      { from: new Date(to.getTime() - 60_000), to },
      opts(),
    );
    assert.deepEqual(points, []);
  });

  it("a NaN sample is no data", async () => {
    const from = new Date(scrapedAt);
    await assert.rejects(
      provider.query("analysis_test_nan", { from, to: new Date(scrapedAt + 1_000) }, opts()),
      (err: Error) => err instanceof NoDataError && /NaN/.test(err.message),
    );
  });

  it("an invalid PromQL fails with Prometheus's error text and status", async () => {
    const to = new Date();
    await assert.rejects(
      provider.query("sum(", { from: new Date(to.getTime() - 60_000), to }, opts()),
      (err: Error) => {
        assert.match(err.message, /^prometheus query failed \(HTTP 400\): bad_data: .*parse error/);
        return true;
      },
    );
  });
});
