import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeSim } from "../src/index.js";
import { parseLabelSelector } from "../src/selectors.js";
import { call, startSim, type SimFixture } from "./harness.js";

/** Reads watch events from a streaming GET until `n` events arrived (or the deadline). */
function watchEvents(
  f: SimFixture,
  path: string,
  n: number,
  timeoutMs = 5_000,
): Promise<{ type: string; object: Record<string, unknown> }[]> {
  const url = new URL(path, f.sim.url);
  return new Promise((resolve, reject) => {
    const events: { type: string; object: Record<string, unknown> }[] = [];
    const req = request(
      url,
      { ca: f.sim.caCert, headers: { authorization: `Bearer ${f.sim.token}` } },
      (res) => {
        let buf = "";
        res.on("data", (d: Buffer) => {
          buf += d.toString();
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line)
              events.push(JSON.parse(line) as { type: string; object: Record<string, unknown> });
            if (events.length >= n) {
              clearTimeout(timer);
              req.destroy();
              resolve(events);
              return;
            }
          }
        });
        res.on("end", () => {
          clearTimeout(timer);
          resolve(events);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      resolve(events);
    }, timeoutMs);
    req.on("error", (e) => (events.length >= n ? undefined : reject(e)));
    req.end();
  });
}

describe("kube-sim API semantics", () => {
  let f: SimFixture;
  before(async () => {
    f = await startSim({ bookmarkIntervalMs: 200 });
  });
  after(async () => f?.close());

  it("serves /version, health, and discovery negotiated by Accept", async () => {
    const v = (await call(f, "GET", "/version")).json();
    assert.equal(v.minor, "33");
    assert.equal((await call(f, "GET", "/healthz", { token: null })).body, "ok");
    const legacy = await call(f, "GET", "/apis");
    assert.equal(legacy.json().kind, "APIGroupList");
    const v2 = await call(f, "GET", "/apis", {
      headers: {
        accept:
          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      },
    });
    assert.equal(
      v2.headers["content-type"],
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    );
    assert.equal(v2.json().apiVersion, "apidiscovery.k8s.io/v2");
    const beta = await call(f, "GET", "/api", {
      headers: {
        accept:
          "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
      },
    });
    assert.equal(beta.json().apiVersion, "apidiscovery.k8s.io/v2beta1");
    const apps = (await call(f, "GET", "/apis/apps/v1")).json() as {
      resources: { name: string; kind: string; storageVersionHash?: string }[];
    };
    const dep = apps.resources.find((r) => r.name === "deployments");
    assert.equal(dep?.storageVersionHash, "8aSe+NMegvE=");
    assert.ok(apps.resources.some((r) => r.name === "deployments/scale" && r.kind === "Scale"));
    const v2doc = await call(f, "GET", "/openapi/v2");
    assert.equal(v2doc.headers["content-type"], "application/octet-stream");
  });

  it("answers with exact Status bodies: 401, 404, 409 AlreadyExists, 400 namespace mismatch", async () => {
    const unauth = await call(f, "GET", "/api/v1/namespaces", { token: "wrong" });
    assert.equal(unauth.status, 401);
    assert.deepEqual(unauth.json(), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401,
    });
    const nf = await call(f, "GET", "/apis/apps/v1/namespaces/default/deployments/nope");
    assert.deepEqual(nf.json(), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'deployments.apps "nope" not found',
      reason: "NotFound",
      details: { name: "nope", group: "apps", kind: "deployments" },
      code: 404,
    });
    const body = { metadata: { name: "dup" } };
    assert.equal(
      (await call(f, "POST", "/api/v1/namespaces/default/configmaps", { body })).status,
      201,
    );
    const dup = await call(f, "POST", "/api/v1/namespaces/default/configmaps", { body });
    assert.equal(dup.status, 409);
    assert.equal(dup.json().message, 'configmaps "dup" already exists');
    const mismatch = await call(f, "POST", "/api/v1/namespaces/default/configmaps", {
      body: { metadata: { name: "x", namespace: "other" } },
    });
    assert.equal(mismatch.status, 400);
    assert.equal(
      mismatch.json().message,
      "the namespace of the provided object does not match the namespace sent on the request",
    );
    const noNs = await call(f, "POST", "/api/v1/namespaces/missing/configmaps", { body });
    assert.equal(noNs.status, 404);
    assert.equal(noNs.json().message, 'namespaces "missing" not found');
    const immortal = await call(f, "DELETE", "/api/v1/namespaces/default");
    assert.equal(immortal.status, 403);
    const badSel = await call(
      f,
      "GET",
      "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(b",
    );
    assert.equal(badSel.status, 400);
  });

  it("keeps resourceVersion on no-op writes and bumps generation only on spec changes", async () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "gen" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "gen" } },
        template: {
          metadata: { labels: { app: "gen" } },
          spec: { containers: [{ name: "c", image: "c:1" }] },
        },
      },
    };
    const created = (
      await call(f, "POST", "/apis/apps/v1/namespaces/default/deployments", { body: dep })
    ).json() as { metadata: { generation: number; resourceVersion: string } };
    assert.equal(created.metadata.generation, 1);
    const merge = (patch: unknown) =>
      call(f, "PATCH", "/apis/apps/v1/namespaces/default/deployments/gen", {
        body: patch,
        headers: { "content-type": "application/merge-patch+json" },
      });
    const labelOnly = (await merge({ metadata: { labels: { x: "y" } } })).json() as {
      metadata: { generation: number; resourceVersion: string };
    };
    assert.equal(labelOnly.metadata.generation, 1, "labels do not bump generation");
    const noop = (await merge({ metadata: { labels: { x: "y" } } })).json() as {
      metadata: { resourceVersion: string };
    };
    assert.equal(
      noop.metadata.resourceVersion,
      labelOnly.metadata.resourceVersion,
      "a no-op write keeps the resourceVersion",
    );
    const spec = (await merge({ spec: { replicas: 2 } })).json() as {
      metadata: { generation: number };
    };
    assert.equal(spec.metadata.generation, 2);
    const dry = await call(f, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", {
      body: { metadata: { name: "dry" } },
    });
    assert.equal(dry.status, 201);
    assert.equal(
      (await call(f, "GET", "/api/v1/namespaces/default/configmaps/dry")).status,
      404,
      "dryRun=All stores nothing",
    );
    const badReplicas = await call(f, "PATCH", "/apis/apps/v1/namespaces/default/deployments/gen", {
      body: { spec: { replicas: -1 } },
      headers: { "content-type": "application/merge-patch+json" },
    });
    assert.equal(badReplicas.status, 422);
    assert.match(
      String(badReplicas.json().message),
      /Deployment\.apps "gen" is invalid: spec\.replicas: Invalid value: -1: must be greater than or equal to 0/,
    );
  });

  it("watch resumes from a resourceVersion, sends bookmarks, and answers 410 for expired versions", async () => {
    const first = (
      await call(f, "POST", "/api/v1/namespaces/default/configmaps", {
        body: { metadata: { name: "w-a" } },
      })
    ).json() as { metadata: { resourceVersion: string } };
    await call(f, "POST", "/api/v1/namespaces/default/configmaps", {
      body: { metadata: { name: "w-b" } },
    });
    const events = await watchEvents(
      f,
      `/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${first.metadata.resourceVersion}`,
      2,
    );
    assert.equal(events[0]?.type, "ADDED");
    assert.equal((events[0]?.object.metadata as { name: string }).name, "w-b");
    assert.equal(events[1]?.type, "BOOKMARK");
    const initial = await watchEvents(
      f,
      "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dw-a",
      2,
    );
    assert.equal(initial[0]?.type, "ADDED");
    assert.equal(initial[1]?.type, "BOOKMARK");
    assert.equal(
      (initial[1]?.object.metadata as { annotations: Record<string, string> }).annotations[
        "k8s.io/initial-events-end"
      ],
      "true",
    );
  });

  it("parses query parameters as the API server does (apimachinery's string conversions)", async () => {
    await call(f, "POST", "/api/v1/namespaces/default/configmaps", {
      body: { metadata: { name: "qp-a" } },
    });
    // Booleans: only absent, "false" and "0" (any case) are false; "True", "yes" and an empty
    // value all watch (the Python client sends watch=True).
    for (const v of ["True", "yes", "", "1", "TRUE"]) {
      const events = await watchEvents(
        f,
        `/api/v1/namespaces/default/configmaps?watch=${v}&fieldSelector=metadata.name%3Dqp-a`,
        1,
      );
      assert.equal(events[0]?.type, "ADDED", `watch=${v} should watch`);
    }
    for (const v of ["False", "0", "false"]) {
      const res = await call(f, "GET", `/api/v1/namespaces/default/configmaps?watch=${v}`);
      assert.equal(res.status, 200);
      assert.equal((res.json() as { kind: string }).kind, "ConfigMapList", `watch=${v} lists`);
    }
    // Integers: strconv.ParseInt, a bad one is a 400 with Go's text.
    const bad = await call(f, "GET", "/api/v1/namespaces/default/configmaps?limit=ten");
    assert.equal(bad.status, 400);
    assert.deepEqual(
      { reason: bad.json().reason, message: bad.json().message },
      { reason: "BadRequest", message: 'strconv.ParseInt: parsing "ten": invalid syntax' },
    );
    const huge = await call(
      f,
      "GET",
      "/api/v1/namespaces/default/configmaps?timeoutSeconds=99999999999999999999",
    );
    assert.equal(huge.status, 400);
    assert.match(String(huge.json().message), /value out of range/);
    const limited = await call(f, "GET", "/api/v1/namespaces/default/configmaps?limit=%2B1");
    assert.equal((limited.json() as { items: unknown[] }).items.length, 1);
  });

  it("reads the query string only through the typed parameter table", async () => {
    const { readdir, readFile } = await import("node:fs/promises");
    const src = new URL("../src/", import.meta.url).pathname;
    const files = (await readdir(src, { recursive: true })).filter((n) => n.endsWith(".ts"));
    const offenders: string[] = [];
    for (const name of files) {
      if (name === "params.ts") continue;
      const text = await readFile(join(src, name), "utf8");
      if (/searchParams\.(get|getAll|has)\(|URLSearchParams\)\.get/.test(text))
        offenders.push(name);
    }
    assert.deepEqual(offenders, []);
  });

  it("server-side apply that creates an object is one write: a single ADDED, owned by the applier", async () => {
    const seen = watchEvents(
      f,
      "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dssa-one",
      2,
      1_500,
    );
    await new Promise((r) => setTimeout(r, 100)); // the watch request must be registered first
    const res = await call(
      f,
      "PATCH",
      "/api/v1/namespaces/default/configmaps/ssa-one?fieldManager=piped",
      {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "ssa-one" },
          data: { a: "1" },
        },
        headers: { "content-type": "application/apply-patch+yaml" },
      },
    );
    assert.equal(res.status, 201);
    const mf = (res.json().metadata as { managedFields: { manager: string; operation: string }[] })
      .managedFields;
    assert.deepEqual(
      mf.map((m) => `${m.manager}/${m.operation}`),
      ["piped/Apply"],
    );
    // Absence of a second event can only be shown by waiting a bounded time for it.
    const events = await seen;
    assert.deepEqual(
      events.map((e) => e.type),
      ["ADDED"],
    );
  });

  it("a watch from a version older than the retained history gets a 410 Expired event", async () => {
    const small = await startSim({ watchHistory: 5 });
    try {
      const first = (
        await call(small, "POST", "/api/v1/namespaces/default/configmaps", {
          body: { metadata: { name: "h0" } },
        })
      ).json() as { metadata: { resourceVersion: string } };
      for (let i = 1; i <= 10; i++)
        await call(small, "POST", "/api/v1/namespaces/default/configmaps", {
          body: { metadata: { name: `h${i}` } },
        });
      const expired = await watchEvents(
        small,
        `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${first.metadata.resourceVersion}`,
        1,
      );
      assert.equal(expired[0]?.type, "ERROR");
      assert.equal((expired[0]?.object as { code: number; reason: string }).code, 410);
      assert.equal((expired[0]?.object as { reason: string }).reason, "Expired");
      // A recent version still resumes.
      const recent = (
        await call(small, "GET", "/api/v1/namespaces/default/configmaps/h9")
      ).json() as { metadata: { resourceVersion: string } };
      const resumed = await watchEvents(
        small,
        `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${recent.metadata.resourceVersion}`,
        1,
      );
      assert.equal(resumed[0]?.type, "ADDED");
      assert.equal((resumed[0]?.object.metadata as { name: string }).name, "h10");
    } finally {
      await small.close();
    }
  });

  it("manages faults over the admin API", async () => {
    const add = await call(f, "POST", "/kube-sim/faults", {
      body: { verb: "list", resource: "secrets", status: 429, count: 1 },
    });
    assert.equal(add.status, 201);
    const hit = await call(f, "GET", "/api/v1/namespaces/default/secrets");
    assert.equal(hit.status, 429);
    assert.equal(hit.headers["retry-after"], "1");
    assert.equal((await call(f, "GET", "/api/v1/namespaces/default/secrets")).status, 200);
    await call(f, "POST", "/kube-sim/faults", { body: { resource: "secrets", status: 500 } });
    assert.equal((await call(f, "GET", "/api/v1/namespaces/default/secrets")).status, 500);
    assert.equal((await call(f, "DELETE", "/kube-sim/faults")).status, 200);
    assert.equal((await call(f, "GET", "/api/v1/namespaces/default/secrets")).status, 200);
    assert.equal(
      (await call(f, "POST", "/kube-sim/faults", { body: { status: 200 } })).status,
      400,
    );
  });
});

describe("kube-sim close", () => {
  it("leaves no timer behind when closed while a controller pass is still queued", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-sim-close-"));
    try {
      const sim = await startKubeSim({ port: 0, kubeconfigPath: join(dir, "kc"), plainHttp: true });
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
      const before = timers();
      const deployments = sim.registry.get("apps", "deployments");
      assert.ok(deployments);
      // The write queues a controller pass (setImmediate); close() runs before it does. That
      // pass used to arm the 600 s progress-deadline timer after close and hold the process.
      sim.objects.create(
        deployments,
        "default",
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "late" },
          spec: {
            selector: { matchLabels: { app: "late" } },
            template: {
              metadata: { labels: { app: "late" } },
              spec: { containers: [{ name: "c", image: "nginx" }] },
            },
          },
        },
        { manager: "test", version: "v1" },
      );
      await sim.close();
      await new Promise((r) => setImmediate(r));
      assert.ok(timers() <= before, `timers: ${before} before, ${timers()} after close`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("kube-sim state file", () => {
  it("keeps objects across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-sim-state-"));
    try {
      const opts = {
        port: 0,
        kubeconfigPath: join(dir, "kc"),
        stateFile: join(dir, "state.json"),
        plainHttp: true,
        token: "t",
      };
      const a = await startKubeSim(opts);
      const cm = await fetch(`${a.url}/api/v1/namespaces/default/configmaps`, {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "application/json" },
        body: JSON.stringify({ metadata: { name: "kept" }, data: { k: "v" } }),
      });
      assert.equal(cm.status, 201);
      await a.close();
      const b = await startKubeSim(opts);
      try {
        const got = (await (
          await fetch(`${b.url}/api/v1/namespaces/default/configmaps/kept`, {
            headers: { authorization: "Bearer t" },
          })
        ).json()) as { data: { k: string } };
        assert.equal(got.data.k, "v");
      } finally {
        await b.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("label selectors", () => {
  it("follow the apimachinery grammar", () => {
    const m = (s: string, l: Record<string, string>) => parseLabelSelector(s)(l);
    assert.equal(m("app=web,track in (stable,canary)", { app: "web", track: "canary" }), true);
    assert.equal(m("app=web,track in (stable,canary)", { app: "web", track: "baseline" }), false);
    assert.equal(
      m("track notin (canary)", { app: "web" }),
      true,
      "notin matches objects without the key",
    );
    assert.equal(m("!track", { app: "web" }), true);
    assert.equal(m("track", { app: "web" }), false);
    assert.equal(m("app!=web", {}), true);
    assert.equal(m("tier==front", { tier: "front" }), true);
    assert.throws(() => parseLabelSelector("a in (b"));
  });
});
