import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  computeVirtualServiceRoutes,
  firstWeightMismatch,
  validateRewrittenRoutes,
  type VirtualServiceRouteOptions,
} from "../src/traffic/istio.js";

const HOST = "web.default.svc.cluster.local";
const variantLabel = { primaryValue: "primary", canaryValue: "canary", baselineValue: "baseline" };
const opts = (o: Partial<VirtualServiceRouteOptions> = {}): VirtualServiceRouteOptions => ({
  host: HOST,
  editableRoutes: [],
  canary: 0,
  baseline: 0,
  variantLabel,
  ...o,
});
const dest = (subset: string, weight?: number, host = HOST, extra: object = {}) => ({
  destination: { host, subset },
  ...(weight === undefined ? {} : { weight }),
  ...extra,
});
const httpRoute = (name: string, route: unknown[], extra: object = {}) => ({
  name,
  ...extra,
  route,
});
type Spec = { http: { name?: string; route?: unknown[] }[] };
const routesOf = (spec: unknown): unknown[][] => (spec as Spec).http.map((r) => r.route ?? []);

describe("computeVirtualServiceRoutes (PipeCD §4.6)", () => {
  const cases: {
    name: string;
    spec: object;
    o: Partial<VirtualServiceRouteOptions>;
    want: unknown[][];
    rewritten: number[];
  }[] = [
    {
      name: "a single route at 100 splits 90/10 (PipeCD's worked example)",
      spec: { hosts: ["web"], http: [httpRoute("primary", [dest("primary", 100)])] },
      o: { canary: 10 },
      want: [[dest("primary", 90), dest("canary", 10)]],
      rewritten: [0],
    },
    {
      name: "another host at 20 keeps its weight; the variants share 80 (72/8/20)",
      spec: {
        http: [httpRoute("primary", [dest("primary", 80), dest("x", 20, "other.svc")])],
      },
      o: { canary: 10 },
      want: [[dest("primary", 72), dest("canary", 8), dest("x", 20, "other.svc")]],
      rewritten: [0],
    },
    {
      name: "baseline too: canary and baseline floor, primary takes the remainder",
      spec: { http: [httpRoute("primary", [dest("primary", 100)])] },
      o: { canary: 15, baseline: 15 },
      want: [[dest("primary", 70), dest("canary", 15), dest("baseline", 15)]],
      rewritten: [0],
    },
    {
      name: "floors are taken per variant and primary gets what they leave",
      spec: {
        http: [httpRoute("r", [dest("primary", 70), dest("x", 30, "other.svc")])],
      },
      o: { canary: 15, baseline: 15 },
      // variantsWeight 70: floor(10.5) = 10 each, primary 50.
      want: [
        [dest("primary", 50), dest("canary", 10), dest("baseline", 10), dest("x", 30, "other.svc")],
      ],
      rewritten: [0],
    },
    {
      name: "canary 0 leaves primary alone at the full weight (canary/baseline omitted)",
      spec: { http: [httpRoute("primary", [dest("primary", 90), dest("canary", 10)])] },
      o: { canary: 0 },
      want: [[dest("primary", 100)]],
      rewritten: [0],
    },
    {
      name: "all traffic to canary still writes primary, at weight 0",
      spec: { http: [httpRoute("primary", [dest("primary", 100)])] },
      o: { canary: 100 },
      want: [[dest("primary", 0), dest("canary", 100)]],
      rewritten: [0],
    },
    {
      name: "editableRoutes leaves the other routes untouched",
      spec: {
        http: [
          httpRoute("internal", [dest("primary", 100)]),
          httpRoute("public", [dest("primary", 100)]),
        ],
      },
      o: { canary: 20, editableRoutes: ["public"] },
      want: [[dest("primary", 100)], [dest("primary", 80), dest("canary", 20)]],
      rewritten: [1],
    },
    {
      name: "without editableRoutes every route is rewritten",
      spec: {
        http: [
          httpRoute("internal", [dest("primary", 100)]),
          httpRoute("public", [dest("primary")]),
        ],
      },
      o: { canary: 20 },
      want: [
        [dest("primary", 80), dest("canary", 20)],
        [dest("primary", 80), dest("canary", 20)],
      ],
      rewritten: [0, 1],
    },
    {
      name: "a route without destinations gets the variants, as in PipeCD",
      spec: { http: [{ name: "empty" }] },
      o: { canary: 10 },
      want: [[dest("primary", 90), dest("canary", 10)]],
      rewritten: [0],
    },
    {
      name: "a redirect route is left alone (destinations next to a redirect are invalid)",
      spec: { http: [{ name: "old", redirect: { uri: "/new" } }] },
      o: { canary: 10 },
      want: [[]],
      rewritten: [],
    },
    {
      name: "ports and per-destination headers of the host's destination are kept",
      spec: {
        http: [
          httpRoute("primary", [
            {
              destination: { host: HOST, subset: "primary", port: { number: 8080 } },
              weight: 100,
              headers: { request: { set: { "x-env": "prod" } } },
            },
          ]),
        ],
      },
      o: { canary: 10 },
      want: [
        [
          {
            destination: { host: HOST, subset: "primary", port: { number: 8080 } },
            weight: 90,
            headers: { request: { set: { "x-env": "prod" } } },
          },
          {
            destination: { host: HOST, subset: "canary", port: { number: 8080 } },
            weight: 10,
            headers: { request: { set: { "x-env": "prod" } } },
          },
        ],
      ],
      rewritten: [0],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = computeVirtualServiceRoutes(c.spec, opts(c.o));
      assert.deepEqual(routesOf(got.spec), c.want);
      assert.deepEqual(got.rewritten, c.rewritten);
      assert.deepEqual(validateRewrittenRoutes(got), []);
    });

  it("keepDestinationFields: false writes PipeCD's bare destinations (the port is dropped)", () => {
    const spec = {
      http: [
        httpRoute("r", [dest("primary", 100, HOST, { headers: { request: { set: { a: "b" } } } })]),
      ],
    };
    (spec.http[0]?.route[0] as { destination: object }).destination = {
      host: HOST,
      subset: "primary",
      port: { number: 8080 },
    };
    const kept = computeVirtualServiceRoutes(spec, opts({ canary: 10 }));
    assert.deepEqual(
      routesOf(kept.spec)[0]?.map((d) => (d as { destination: object }).destination),
      [
        { host: HOST, subset: "primary", port: { number: 8080 } },
        { host: HOST, subset: "canary", port: { number: 8080 } },
      ],
      "kept by default",
    );
    const bare = computeVirtualServiceRoutes(
      spec,
      opts({ canary: 10, keepDestinationFields: false }),
    );
    assert.deepEqual(routesOf(bare.spec), [[dest("primary", 90), dest("canary", 10)]]);
  });

  it("touches only spec.http[].route and never the input", () => {
    const spec = {
      hosts: ["web"],
      gateways: ["mesh"],
      tcp: [{ route: [dest("primary", 100)] }],
      http: [
        httpRoute("primary", [dest("primary", 100)], {
          match: [{ uri: { prefix: "/" } }],
          retries: { attempts: 3 },
          timeout: "5s",
        }),
      ],
    };
    const before = structuredClone(spec);
    const got = computeVirtualServiceRoutes(spec, opts({ canary: 10 }));
    assert.deepEqual(spec, before, "the input is not mutated");
    assert.deepEqual(got.spec, {
      ...before,
      http: [{ ...before.http[0], route: [dest("primary", 90), dest("canary", 10)] }],
    });
  });
});

describe("validateRewrittenRoutes", () => {
  it("rejects other-host weights above 100 (primary would be negative)", () => {
    const got = computeVirtualServiceRoutes(
      { http: [httpRoute("r", [dest("x", 120, "other.svc")])] },
      opts({ canary: 10 }),
    );
    // variantsWeight -20: canary floor(-2) is dropped (not > 0), primary -18.
    assert.deepEqual(validateRewrittenRoutes(got), [
      'route "r": weights must be integers ≥ 0, got -18',
      'route "r": weights sum to 102, not 100',
    ]);
  });

  it("rejects non-integer weights", () => {
    const got = computeVirtualServiceRoutes(
      { http: [httpRoute("r", [dest("primary", 80), dest("x", 20.5, "other.svc")])] },
      opts({ canary: 10 }),
    );
    assert.match(validateRewrittenRoutes(got).join(";"), /must be integers ≥ 0/);
  });

  it("rejects a rewritten route whose weights do not sum to 100", () => {
    assert.deepEqual(
      validateRewrittenRoutes({
        spec: { http: [{ route: [dest("primary", 90), dest("canary", 5)] }] },
        rewritten: [0],
      }),
      ["route #0: weights sum to 95, not 100"],
    );
  });

  it("does not judge routes it did not rewrite", () => {
    assert.deepEqual(
      validateRewrittenRoutes({
        spec: { http: [{ route: [dest("primary", 5)] }] },
        rewritten: [],
      }),
      [],
    );
  });
});

describe("firstWeightMismatch", () => {
  it("names the first route whose live weights differ", () => {
    const written = {
      http: [httpRoute("a", [dest("primary", 100)]), httpRoute("b", [dest("primary", 90)])],
    };
    const live = {
      http: [httpRoute("a", [dest("primary", 100)]), httpRoute("b", [dest("primary", 100)])],
    };
    assert.equal(firstWeightMismatch(written, written), undefined);
    assert.match(firstWeightMismatch(written, live) ?? "", /^route "b": wrote weights \[90\]/);
  });
});
