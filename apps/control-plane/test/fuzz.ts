import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { pino } from "pino";
import { PipedService } from "@pipecd-ts/proto";
import { Routes, type RouteDef } from "@pipecd-ts/rest-api";
import { formatPipedToken } from "@pipecd-ts/control-plane";
import {
  hostileJson,
  hostileString,
  rarely,
  requestBytes,
  schemaValue,
  type SchemaContext,
} from "./fuzz-arbitraries.js";
import {
  addApp,
  grpcCode,
  registerPiped,
  runningDeployment,
  startTestControlPlane,
  testConfig,
  type TestControlPlane,
  type TestPiped,
} from "./harness.js";

// The fuzz suite: every REST route of the route table and every PipedService RPC gets `runs`
// generated requests (fixed seeds per target, so a failure reproduces: the report names the seed
// and the shrunk request). It checks that nothing answers 5xx or INTERNAL-like gRPC codes, that the
// control plane logs no error, and that a fixed set of reads still answers 200 afterwards.
// `make test` runs 40 cases per target (new ones each day, so coverage grows across days; 60
// until the 10-min budget got tight); `make fuzz` sets PIPECD_FUZZ_RUNS for long runs.

/** Cases per target (REST route or RPC). */
export const FUZZ_RUNS = Number(process.env.PIPECD_FUZZ_RUNS ?? 40);
/**
 * Base seed; each target's seed is derived from it, the datastore and the target's name. By
 * default it is the UTC date (YYYYMMDD): each day's runs try new cases, and a failure still
 * reproduces with PIPECD_FUZZ_SEED set to the seed the report names.
 */
const BASE_SEED = Number(
  process.env.PIPECD_FUZZ_SEED ?? new Date().toISOString().slice(0, 10).replace(/-/g, ""),
);

function seedOf(driver: string, target: string): number {
  return createHash("sha256").update(`${BASE_SEED}:${driver}:${target}`).digest().readInt32BE(0);
}

/** gRPC codes a healthy server never gives a well-authenticated or hostile caller alike. */
const BROKEN_CODES = new Set([
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.DATA_LOSS,
  grpc.status.UNAVAILABLE,
  grpc.status.UNIMPLEMENTED,
  grpc.status.DEADLINE_EXCEEDED,
]);

/** Path segments that are hostile as written (already percent-encoded where needed). */
const hostileSegment = fc.constantFrom(
  "",
  "..",
  "%2e%2e",
  "%00",
  "%ZZ",
  "a%2Fb",
  "%ED%A0%80",
  "%F0%9F%92%A5",
  "x".repeat(10_000),
  "1".repeat(40),
  "%20",
);

/** Percent-encodes like encodeURIComponent, lone surrogates as the bytes a WTF-8 writer sends. */
function pct(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const u = ch.charCodeAt(0);
        if (ch.length === 1 && u >= 0xd800 && u <= 0xdfff)
          return [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join("");
        return encodeURIComponent(ch);
      })
      .join("");
  }
}

function queryPart(v: unknown): string {
  if (typeof v === "string") return pct(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "";
  return pct(JSON.stringify(v));
}

/** Query strings no schema allows, as raw text. */
const hostileQuery = fc.constantFrom(
  "limit=99999999999999999999",
  "limit=1e400",
  "limit=-1",
  "limit=&limit=",
  `cursor=${"9".repeat(80)}`,
  "cursor=18446744073709551616",
  `cursor=${Buffer.from("1:9999999999999999999").toString("base64url")}`,
  "cursor=%ZZ",
  "cursor=%ED%A0%80",
  "afterIndex=9007199254740993",
  "afterIndex=-1",
  "__proto__[polluted]=1",
  "disabled=maybe",
  "status=NOPE&status=DEPLOYMENT_SUCCESS",
  "label=nocolon",
  `name=${"n".repeat(5000)}`,
);

interface RestCase {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

interface Keys {
  admin: string;
  viewer: string;
}

const OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];

function authHeaders(keys: Keys): fc.Arbitrary<Record<string, string>> {
  return fc.oneof(
    { weight: 17, arbitrary: fc.constant({ authorization: `Bearer ${keys.admin}` }) },
    { weight: 1, arbitrary: fc.constant({ authorization: `Bearer ${keys.viewer}` }) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("authorization", "cookie"),
          fc.constantFrom("Bearer ", "Basic ", "", "pipecd_session="),
          fc.string({ unit: "binary-ascii", maxLength: 80 }),
        )
        .map(([name, prefix, v]) => ({
          // Header values cannot hold control characters; everything else goes.
          [name]: [...(prefix + v)].map((c) => (c < " " || c === "\x7f" ? "_" : c)).join(""),
        })),
    },
  );
}

function bodyOf(value: fc.Arbitrary<unknown>): fc.Arbitrary<Pick<RestCase, "body" | "headers">> {
  const json = { "content-type": "application/json" };
  return fc.oneof(
    {
      weight: 14,
      arbitrary: value.map((v) => ({ body: JSON.stringify(v) ?? "null", headers: json })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, fc.constantFrom("1e400", "123456789012345678901234567890", "-0.0e-999"))
        .map(([v, n]) => {
          const text = JSON.stringify(v) ?? "{}";
          return { body: /\d+/.test(text) ? text.replace(/\d+/, n) : `{"x":${n}}`, headers: json };
        }),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ body: b, headers: json })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          value,
          fc.constantFrom(
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "application/xml",
          ),
        )
        .map(([v, type]) => ({ body: JSON.stringify(v) ?? "", headers: { "content-type": type } })),
    },
    { weight: 1, arbitrary: fc.constant({ headers: {} }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom("[", '{"a":'))
        .map(([n, open]) => ({ body: open.repeat(n), headers: json })),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        body: JSON.stringify({ name: "x".repeat(2 << 20) }),
        headers: json,
      }),
    },
  );
}

/** Requests for one route of the route table. */
function restCases(def: RouteDef, ctx: SchemaContext, keys: Keys): fc.Arbitrary<RestCase> {
  // A parameter takes the ids of the collection its path names (/pipeds/:id: piped ids).
  const params = fc.tuple(
    ...[...def.path.matchAll(/([\w-]+)\/:(\w+)/g)].map(([, collection, name]) => {
      const own = ctx.ids(name === "id" ? collection! : name!);
      const all = ctx.ids("id");
      return fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom(...(own.length ? own : all)) },
        { weight: 3, arbitrary: fc.constantFrom(...all) },
        { weight: 2, arbitrary: hostileString.map(pct) },
        { weight: 1, arbitrary: hostileSegment },
      );
    }),
  );
  const query = fc
    .tuple(
      def.query ? schemaValue(def.query, ctx) : fc.constant(undefined),
      rarely(hostileQuery, 8),
    )
    .map(([q, extra]) => {
      const parts: string[] = [];
      if (q !== null && typeof q === "object" && !Array.isArray(q)) {
        for (const [k, v] of Object.entries(q))
          for (const one of Array.isArray(v) ? v : [v]) parts.push(`${pct(k)}=${queryPart(one)}`);
      } else if (q !== undefined) parts.push(`q=${queryPart(q)}`);
      if (extra !== null) parts.push(extra);
      return parts.join("&");
    });
  const sendsBody = def.method !== "GET";
  const body: fc.Arbitrary<Pick<RestCase, "body" | "headers">> = sendsBody
    ? bodyOf(def.body ? schemaValue(def.body, ctx) : hostileJson)
    : fc.constant({ headers: {} });
  const method = fc.oneof(
    { weight: 19, arbitrary: fc.constant(def.method) },
    { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
  );
  return fc.tuple(params, query, body, authHeaders(keys), method).map(([values, q, b, auth, m]) => {
    let i = 0;
    const path = def.path.replace(/:(\w+)/g, () => values[i++] ?? "");
    const withBody = m !== "GET" && m !== "HEAD";
    return {
      method: m,
      path,
      query: q,
      headers: { ...(withBody ? b.headers : {}), ...auth },
      body: withBody ? b.body : undefined,
    };
  });
}

/** Paths outside the route table: the event stream, health, metrics, OpenAPI, the web UI. */
function otherCases(keys: Keys): fc.Arbitrary<RestCase> {
  const path = fc.oneof(
    fc.constantFrom(
      "/",
      "/healthz",
      "/metrics",
      "/api/v1/openapi.json",
      "/api/v1/",
      "/api/v1/nope",
      "/api/v1/stream",
      "/assets/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/index.html",
      "/deployments/x",
    ),
    fc.tuple(fc.constantFrom("/", "/api/v1/", "/assets/"), hostileSegment).map(([a, b]) => a + b),
    hostileString.map((s) => `/${pct(s)}`),
  );
  return fc
    .tuple(path, rarely(hostileQuery, 3), authHeaders(keys), fc.constantFrom(...OTHER_METHODS))
    .map(([p, q, auth, m]) => ({ method: m, path: p, query: q ?? "", headers: auth }));
}

interface Tally {
  statuses: Map<string, number>;
  latencies: number[];
}

function count(t: Tally, key: string, ms: number): void {
  t.statuses.set(key, (t.statuses.get(key) ?? 0) + 1);
  t.latencies.push(ms);
}

async function send(baseUrl: string, c: RestCase, tally: Tally): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}${c.path}${c.query ? `?${c.query}` : ""}`, {
    method: c.method,
    headers: c.headers,
    body: c.body,
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  const type = res.headers.get("content-type") ?? "";
  // The event stream never ends; what matters is how it starts.
  const text = type.startsWith("text/event-stream")
    ? (await res.body?.cancel(), "")
    : await res.text();
  count(tally, String(res.status), performance.now() - t0);
  assert.ok(
    res.status < 500,
    `${c.method} ${c.path} answered ${res.status}: ${text.slice(0, 300)}`,
  );
  if (type.startsWith("application/json") && c.method !== "HEAD" && res.status !== 204)
    assert.doesNotThrow(() => JSON.parse(text), `${c.method} ${c.path}: the body is not JSON`);
}

function callRpc(
  client: grpc.Client,
  path: string,
  streaming: boolean,
  bytes: Uint8Array,
  md: grpc.Metadata,
): Promise<grpc.status> {
  const id = (b: Buffer) => b;
  const arg = Buffer.from(bytes);
  if (!streaming)
    return new Promise((resolve) =>
      client.makeUnaryRequest(path, id, id, arg, md, { deadline: Date.now() + 10_000 }, (err) =>
        resolve(err ? err.code : grpc.status.OK),
      ),
    );
  // A stream that opens stays open: take its first message (or 5 ms of silence) as an answer.
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, id, id, arg, md, {
      deadline: Date.now() + 10_000,
    });
    let done = false;
    const finish = (code: grpc.status) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(code);
      call.cancel();
    };
    const timer = setTimeout(() => finish(grpc.status.OK), 5);
    call.on("data", () => finish(grpc.status.OK));
    call.on("error", (err: grpc.ServiceError) => finish(err.code));
    call.on("end", () => finish(grpc.status.OK));
  });
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

function summary(t: Tally): string {
  const codes = [...t.statuses]
    .sort()
    .map(([k, n]) => `${k}×${n}`)
    .join(" ");
  return `${t.latencies.length} cases; p99 ${p99(t.latencies).toFixed(1)} ms; ${codes}`;
}

/** Ids by kind; a hint names a kind as a field (`deploymentId`) or a path segment (`pipeds`). */
function idPool(kinds: Record<string, string[]>): SchemaContext {
  const all = [...new Set(Object.values(kinds).flat())];
  return {
    ids(hint) {
      const h = hint.toLowerCase().replace(/[-_]/g, "");
      if (h === "id" || h === "ids") return all;
      for (const [kind, ids] of Object.entries(kinds))
        if ([kind, `${kind}s`, `${kind}id`, `${kind}ids`].includes(h)) return ids;
      return /ids?$/.test(h) ? all : [];
    },
  };
}

/** The fuzz suite against a control plane on `datastoreUrl` (SQLite in a temp dir if undefined). */
export function fuzzSuite(
  driver: string,
  datastoreUrl: () => Promise<string | undefined>,
  runs = FUZZ_RUNS,
): void {
  describe(`fuzzing the control plane on ${driver} (${runs} cases per target, seed ${BASE_SEED})`, () => {
    let t: TestControlPlane;
    let p: TestPiped;
    let r: TestPiped;
    let restIds: SchemaContext;
    let grpcIds: SchemaContext;
    let keys: Keys;
    let appA: string;
    const logged: string[] = [];
    const failures: unknown[] = [];
    const onFailure = (err: unknown) => failures.push(err);
    const rest: Tally = { statuses: new Map(), latencies: [] };
    const rpc: Tally = { statuses: new Map(), latencies: [] };

    before(async () => {
      process.on("unhandledRejection", onFailure);
      process.on("uncaughtException", onFailure);
      const config = await testConfig(
        { alice: ["alice-secret", "editor"] },
        { eventStreamsPerCaller: 4, watchStreamsPerPiped: 4 },
      );
      // Errors the control plane logs are failures too: they are where a swallowed bug shows.
      const logger = pino(
        { level: "error" },
        { write: (line: string) => void logged.push(line.slice(0, 2000)) },
      );
      t = await startTestControlPlane({ datastoreUrl: await datastoreUrl(), config, logger });
      p = await registerPiped(t, "fuzz-grpc");
      r = await registerPiped(t, "fuzz-rest");
      appA = await addApp(t, p, "app-grpc");
      const appB = await addApp(t, r, "app-rest");
      await runningDeployment(
        p,
        appA,
        "dep-fuzz",
        [
          { id: "s1", name: "WAIT_APPROVAL" },
          { id: "s2", name: "K8S_CANARY_ROLLOUT" },
        ],
        ["s1"],
      );
      await p.client.reportStageLogs(
        {
          deploymentId: "dep-fuzz",
          stageId: "s1",
          blocks: [{ index: 0n, log: "hello", severity: 0 }],
        },
        { metadata: p.md },
      );
      const approved = await t.admin.call("approveStage", {
        params: { id: "dep-fuzz", stageId: "s1" },
      });
      const viewer = await t.admin.call("createAPIKey", {
        body: { name: "fuzz-viewer", role: "viewer" },
      });
      const spare = await t.admin.call("createAPIKey", {
        body: { name: "fuzz-spare", role: "editor" },
      });
      keys = { admin: t.adminKey, viewer: viewer.key };
      // Ids of stored things, so that many requests get past "not found" into the handlers. The
      // admin key and the gRPC fuzzer's piped are left out: disabling them would end the run.
      const stored = {
        application: [appA, appB],
        deployment: ["dep-fuzz"],
        stage: ["s1", "s2"],
        command: [approved.commandId],
        apikey: [spare.id],
      };
      restIds = idPool({ ...stored, piped: [r.id] });
      grpcIds = idPool({ ...stored, piped: [p.id, r.id] });
    });

    after(async () => {
      process.off("unhandledRejection", onFailure);
      process.off("uncaughtException", onFailure);
      p?.close();
      r?.close();
      await t?.close();
    });

    describe("PipedService RPCs", () => {
      let raw: grpc.Client;
      let streamsOnConnection = 0;
      const connect = () =>
        (raw = new grpc.Client(t.cp.grpcAddress, grpc.credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1, // a new connection, not the previous client's
        }));
      before(connect);
      after(() => raw.close());
      // Each stream case ends with the client resetting the stream. Past about 1,000 resets in a
      // burst (then 33 a second) the server's HTTP/2 layer (nghttp2's rapid-reset defence) closes
      // the connection, which the client reports as INTERNAL "Session closed with error code 2".
      // That is the server protecting itself, not a fault, so streams get a fresh connection
      // every 500 cases: the cases stay the same, only the connection under them changes.
      const fresh = (): void => {
        if (++streamsOnConnection < 500) return;
        streamsOnConnection = 0;
        raw.close();
        connect();
      };

      for (const m of PipedService.methods) {
        it(`${m.name}`, async () => {
          const md = fc.oneof(
            { weight: 17, arbitrary: fc.constant(p.md) },
            { weight: 1, arbitrary: fc.constant(r.md) },
            { weight: 1, arbitrary: fc.constant(new grpc.Metadata()) },
            {
              weight: 1,
              arbitrary: fc
                .tuple(
                  fc.constantFrom("default", "", "other"),
                  hostileString,
                  fc.string({ unit: "binary-ascii" }),
                )
                .map(([project, id, key]) => {
                  const out = new grpc.Metadata();
                  const token = formatPipedToken(project, id, key).replace(/[^\x20-\x7e]/g, "_");
                  out.set("authorization", token);
                  return out;
                }),
            },
          );
          const path = `/${PipedService.typeName}/${m.name}`;
          await fc.assert(
            fc.asyncProperty(requestBytes(m.input, grpcIds), md, async (bytes, meta) => {
              if (m.methodKind === "server_streaming") fresh();
              const t0 = performance.now();
              const code = await callRpc(
                raw,
                path,
                m.methodKind === "server_streaming",
                bytes,
                meta,
              );
              count(rpc, grpc.status[code] ?? String(code), performance.now() - t0);
              assert.ok(!BROKEN_CODES.has(code), `${m.name} answered ${grpc.status[code]}`);
            }),
            { numRuns: runs, seed: seedOf(driver, `grpc:${m.name}`), endOnFailure: true },
          );
        });
      }
    });

    describe("REST routes", () => {
      for (const [op, def] of Object.entries(Routes) as [string, RouteDef][]) {
        it(`${op}: ${def.method} ${def.path}`, async () => {
          await fc.assert(
            fc.asyncProperty(restCases(def, restIds, keys), (c) => send(t.cp.httpUrl, c, rest)),
            { numRuns: runs, seed: seedOf(driver, `rest:${op}`), endOnFailure: true },
          );
        });
      }
      it("paths outside the route table: event stream, health, metrics, OpenAPI, web UI", async () => {
        await fc.assert(
          fc.asyncProperty(otherCases(keys), (c) => send(t.cp.httpUrl, c, rest)),
          { numRuns: runs, seed: seedOf(driver, "rest:other"), endOnFailure: true },
        );
      });
    });

    it("afterwards the reads answer 200, nothing was logged as an error, nothing was thrown", async (tc) => {
      const reads = [
        "/api/v1/me",
        "/api/v1/pipeds",
        "/api/v1/applications",
        "/api/v1/applications?limit=500",
        "/api/v1/deployments",
        "/api/v1/deployments?limit=500",
        "/api/v1/deployments/dep-fuzz",
        "/api/v1/deployments/dep-fuzz/stages/s1/logs",
        "/api/v1/api-keys",
        "/api/v1/audit-log",
        `/api/v1/pipeds/${r.id}`,
        "/api/v1/openapi.json",
        "/healthz",
      ];
      for (const path of reads) {
        const res = await fetch(`${t.cp.httpUrl}${path}`, {
          headers: { authorization: `Bearer ${t.adminKey}` },
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200, `${path}: ${(await res.text()).slice(0, 300)}`);
      }
      const apps = await grpcCode(p.client.listApplications({}, { metadata: p.md }));
      assert.equal(apps, grpc.status.OK, "the fuzzed piped still lists its applications");
      assert.deepEqual(logged, [], "the control plane logged errors");
      assert.deepEqual(failures, [], "unhandled rejections or exceptions");
      tc.diagnostic(`REST: ${summary(rest)}`);
      tc.diagnostic(`gRPC: ${summary(rpc)}`);
    });
  });
}
