import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  builtinSmpSchema,
  deepEqual,
  listTypesFromSmp,
  PatchError,
  recordUpdate,
  serverSideApply,
  type Json,
  type ManagedFieldsEntry,
} from "../src/patch/index.js";

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:01:00Z";
const T2 = "2026-01-01T00:02:00Z";
const DEPLOY_TYPES = listTypesFromSmp(builtinSmpSchema("apps/v1", "Deployment"));
const CR_TYPES = listTypesFromSmp(undefined);

type Obj = { [k: string]: Json };

function deployment(
  opts: { replicas?: number; image?: string; env?: Obj[]; labels?: Obj; containers?: Obj[] } = {},
): Obj {
  const containers = opts.containers ?? [
    { name: "web", image: opts.image ?? "nginx:1.25", ...(opts.env ? { env: opts.env } : {}) },
  ];
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", labels: opts.labels ?? { app: "web" } },
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers } },
    },
  };
}

function apply(
  live: Json | undefined,
  applied: Json,
  manager: string,
  opts: { force?: boolean; now?: string; listType?: typeof DEPLOY_TYPES; apiVersion?: string } = {},
) {
  return serverSideApply({
    live,
    applied,
    manager,
    force: opts.force ?? false,
    apiVersion: opts.apiVersion ?? "apps/v1",
    now: opts.now ?? T1,
    listType: opts.listType ?? DEPLOY_TYPES,
  });
}

/** What a create by `manager` (a non-apply write) stores. */
function created(obj: Obj, manager: string): Obj {
  const managedFields = recordUpdate({
    before: undefined,
    after: obj,
    manager,
    apiVersion: "apps/v1",
    now: T0,
    listType: DEPLOY_TYPES,
  });
  return withManagedFields(obj, managedFields);
}

function withManagedFields(obj: Json, managedFields: ManagedFieldsEntry[]): Obj {
  const o = structuredClone(obj) as Obj;
  (o["metadata"] as Obj)["managedFields"] = managedFields as unknown as Json;
  return o;
}

function entry(list: ManagedFieldsEntry[], manager: string): ManagedFieldsEntry {
  const e = list.find((x) => x.manager === manager);
  assert.ok(e, `managedFields has an entry for ${manager}: ${JSON.stringify(list)}`);
  return e;
}

function at(v: Json | undefined, path: string): Json | undefined {
  let cur = v;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = Array.isArray(cur) ? cur[Number(p)] : cur[p];
  }
  return cur;
}

function conflictOf(fn: () => unknown): PatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PatchError) return e;
    throw e;
  }
  assert.fail("expected a 409");
}

describe("server-side apply", () => {
  it("creates the object and records the applier's fields in the real FieldsV1 encoding", () => {
    const applied = deployment({ env: [{ name: "A", value: "1" }] });
    const { object, managedFields } = apply(undefined, applied, "kubectl");
    const { metadata, ...rest } = object as Obj;
    const { managedFields: stored, ...meta } = metadata as Obj;
    const { metadata: _m, ...appliedRest } = applied;
    assert.deepEqual(rest, appliedRest);
    assert.deepEqual(meta, applied["metadata"]);
    assert.deepEqual(stored, managedFields);
    assert.deepEqual(managedFields, [
      {
        manager: "kubectl",
        operation: "Apply",
        apiVersion: "apps/v1",
        time: T1,
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:metadata": { "f:labels": { "f:app": {} } },
          "f:spec": {
            "f:replicas": {},
            "f:selector": { "f:matchLabels": { "f:app": {} } },
            "f:template": {
              "f:metadata": { "f:labels": { "f:app": {} } },
              "f:spec": {
                "f:containers": {
                  'k:{"name":"web"}': {
                    ".": {},
                    "f:env": { 'k:{"name":"A"}': { ".": {}, "f:name": {}, "f:value": {} } },
                    "f:image": {},
                    "f:name": {},
                  },
                },
              },
            },
          },
        },
      },
    ]);
  });

  it("a second apply without a field prunes it (labels, env vars, whole containers)", () => {
    const first = deployment({
      labels: { app: "web", tier: "front" },
      containers: [
        {
          name: "web",
          image: "nginx:1.25",
          env: [
            { name: "A", value: "1" },
            { name: "B", value: "2" },
          ],
        },
        { name: "sidecar", image: "envoy" },
      ],
    });
    const live = apply(undefined, first, "pipecd", { now: T0 }).object;
    const second = deployment({ env: [{ name: "A", value: "1" }] });
    const { object, managedFields } = apply(live, second, "pipecd", { now: T1 });
    assert.deepEqual(at(object, "metadata.labels"), { app: "web" });
    assert.deepEqual(at(object, "spec.template.spec.containers"), [
      { name: "web", image: "nginx:1.25", env: [{ name: "A", value: "1" }] },
    ]);
    assert.equal(managedFields.length, 1);
    assert.equal(JSON.stringify(managedFields[0]?.fieldsV1).includes("sidecar"), false);
  });

  it("a field the applier drops survives when another manager also owns it", () => {
    const live1 = apply(undefined, deployment({ labels: { app: "web", team: "a" } }), "pipecd", {
      now: T0,
    }).object;
    const other = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", labels: { team: "a" } },
    };
    const live2 = apply(live1, other, "labeler", { now: T0 }).object;
    const { object, managedFields } = apply(
      live2,
      deployment({ labels: { app: "web" } }),
      "pipecd",
    );
    assert.deepEqual(at(object, "metadata.labels"), { app: "web", team: "a" });
    assert.deepEqual(entry(managedFields, "labeler").fieldsV1, {
      "f:metadata": { "f:labels": { "f:team": {} } },
    });
  });

  it("changing a field a kubectl-client-side-apply Update owns is a 409 with the exact message", () => {
    const live = created(deployment({ replicas: 2 }), "kubectl-client-side-apply");
    const err = conflictOf(() => apply(live, deployment({ replicas: 5 }), "pipecd"));
    assert.equal(err.code, 409);
    assert.equal(
      err.message,
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
    );
    assert.deepEqual(err.causes, [
      {
        type: "FieldManagerConflict",
        message: 'conflict with "kubectl-client-side-apply" using apps/v1',
        field: ".spec.replicas",
      },
    ]);
  });

  it("several conflicts are listed per manager, fields with list keys included", () => {
    const live = created(deployment({ replicas: 2 }), "kubectl-client-side-apply");
    const err = conflictOf(() =>
      apply(live, deployment({ replicas: 5, image: "nginx:2" }), "pipecd"),
    );
    assert.equal(
      err.message,
      'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n' +
        "- .spec.replicas\n" +
        '- .spec.template.spec.containers[name="web"].image',
    );
    assert.equal(err.causes?.length, 2);
  });

  it("applying the value another manager already set is no conflict and shares ownership", () => {
    const live = created(deployment({ replicas: 2 }), "kubectl-client-side-apply");
    const { managedFields } = apply(live, deployment({ replicas: 2 }), "pipecd");
    const csa = JSON.stringify(entry(managedFields, "kubectl-client-side-apply").fieldsV1);
    const mine = JSON.stringify(entry(managedFields, "pipecd").fieldsV1);
    assert.ok(csa.includes("f:replicas") && mine.includes("f:replicas"));
  });

  it("force transfers ownership of the conflicting fields only", () => {
    const live = created(deployment({ replicas: 2 }), "kubectl-client-side-apply");
    const { object, managedFields } = apply(live, deployment({ replicas: 5 }), "pipecd", {
      force: true,
    });
    assert.equal(at(object, "spec.replicas"), 5);
    const csa = entry(managedFields, "kubectl-client-side-apply");
    assert.equal(at(csa.fieldsV1, "f:spec.f:replicas"), undefined);
    assert.deepEqual(at(csa.fieldsV1, "f:spec.f:selector"), { "f:matchLabels": { "f:app": {} } });
    assert.equal(csa.time, T0, "the losing manager keeps its time");
    assert.deepEqual(at(entry(managedFields, "pipecd").fieldsV1, "f:spec.f:replicas"), {});
    assert.deepEqual(
      managedFields.map((e) => [e.manager, e.operation]),
      [
        ["pipecd", "Apply"],
        ["kubectl-client-side-apply", "Update"],
      ],
    );
  });

  it("kubectl may take over fields from client-side apply while they match last-applied", () => {
    const withAnnotation = deployment({ replicas: 2 });
    (withAnnotation["metadata"] as Obj)["annotations"] = {
      "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(
        deployment({ replicas: 2 }),
      ),
    };
    const live = created(withAnnotation, "kubectl-client-side-apply");
    const { object } = apply(live, deployment({ replicas: 4 }), "kubectl");
    assert.equal(at(object, "spec.replicas"), 4);
    const ann = (at(object, "metadata.annotations") as Obj)[
      "kubectl.kubernetes.io/last-applied-configuration"
    ];
    assert.equal(
      at(JSON.parse(ann as string) as Json, "spec.replicas"),
      4,
      "last-applied follows kubectl's apply",
    );
    assert.equal(conflictOf(() => apply(live, deployment({ replicas: 4 }), "other")).code, 409);
  });

  it("replaces an atomic custom-resource list (Istio spec.http) as a whole", () => {
    const vs = (http: Json): Obj => ({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "web", namespace: "default" },
      spec: { hosts: ["web"], http },
    });
    const opts = { listType: CR_TYPES, apiVersion: "networking.istio.io/v1" };
    const live = apply(
      undefined,
      vs([
        {
          name: "primary",
          route: [{ destination: { host: "web", subset: "stable" }, weight: 100 }],
        },
        { name: "mirror", route: [{ destination: { host: "web-mirror" } }] },
      ]),
      "pipecd",
      { ...opts, now: T0 },
    ).object;
    const http = [
      {
        name: "primary",
        route: [
          { destination: { host: "web", subset: "stable" }, weight: 80 },
          { destination: { host: "web", subset: "canary" }, weight: 20 },
        ],
      },
    ];
    const { object, managedFields } = apply(live, vs(http), "pipecd", opts);
    assert.deepEqual(at(object, "spec.http"), http);
    assert.deepEqual(entry(managedFields, "pipecd").fieldsV1, {
      "f:spec": { "f:hosts": {}, "f:http": {} },
    });
    const err = conflictOf(() => apply(object, vs([]), "other-router", opts));
    assert.equal(err.causes?.[0]?.field, ".spec.http");
  });

  it("merges map-list containers by name between two appliers", () => {
    const live = apply(undefined, deployment(), "pipecd", { now: T0 }).object;
    const injector = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { template: { spec: { containers: [{ name: "istio-proxy", image: "proxyv2" }] } } },
    };
    const { object, managedFields } = apply(live, injector, "injector");
    assert.deepEqual(at(object, "spec.template.spec.containers"), [
      { name: "web", image: "nginx:1.25" },
      { name: "istio-proxy", image: "proxyv2" },
    ]);
    assert.deepEqual(entry(managedFields, "injector").fieldsV1, {
      "f:spec": {
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"istio-proxy"}': { ".": {}, "f:image": {}, "f:name": {} },
            },
          },
        },
      },
    });
    // pipecd's next apply leaves the injected container alone: it never owned it.
    const again = apply(object, deployment({ image: "nginx:1.26" }), "pipecd", { now: T2 }).object;
    assert.deepEqual(
      (at(again, "spec.template.spec.containers") as Obj[]).map((c) => [c["name"], c["image"]]),
      [
        ["web", "nginx:1.26"],
        ["istio-proxy", "proxyv2"],
      ],
    );
  });

  it("a no-op apply returns the live object unchanged, managedFields time included", () => {
    const live = apply(undefined, deployment(), "pipecd", { now: T0 }).object;
    const { object } = apply(live, deployment(), "pipecd", { now: T2 });
    assert.ok(deepEqual(object, live));
  });

  it("an object created without managedFields is first owned by before-first-apply", () => {
    const err = conflictOf(() =>
      apply(deployment({ replicas: 1 }), deployment({ replicas: 3 }), "pipecd"),
    );
    assert.equal(
      err.message,
      'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas',
    );
  });

  it("refuses an applied config that carries metadata.managedFields (400)", () => {
    const body = deployment();
    (body["metadata"] as Obj)["managedFields"] = [];
    const err = conflictOf(() => apply(undefined, body, "pipecd"));
    assert.equal(err.code, 400);
    assert.equal(err.message, "metadata.managedFields must be nil");
  });

  it("refuses duplicate keys in an applied map-list (422)", () => {
    const body = deployment({ containers: [{ name: "web" }, { name: "web" }] });
    assert.equal(conflictOf(() => apply(undefined, body, "pipecd")).code, 422);
  });
});

describe("recordUpdate", () => {
  it("a create owns every field except the identity and server-set metadata", () => {
    const obj = deployment();
    (obj["metadata"] as Obj)["uid"] = "u-1";
    const [e, ...rest] = recordUpdate({
      before: undefined,
      after: obj,
      manager: "kubectl-create",
      apiVersion: "apps/v1",
      now: T0,
      listType: DEPLOY_TYPES,
    });
    assert.equal(rest.length, 0);
    assert.deepEqual(e, {
      manager: "kubectl-create",
      operation: "Update",
      apiVersion: "apps/v1",
      time: T0,
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": { "f:labels": { "f:app": {} } },
        "f:spec": {
          "f:replicas": {},
          "f:selector": { "f:matchLabels": { "f:app": {} } },
          "f:template": {
            "f:metadata": { "f:labels": { "f:app": {} } },
            "f:spec": {
              "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {}, "f:name": {} } },
            },
          },
        },
      },
    });
  });

  it("a later write by another manager takes only the fields it changed", () => {
    const live = created(deployment({ replicas: 2 }), "kubectl-client-side-apply");
    const after = structuredClone(live);
    ((after["spec"] as Obj)["replicas"] as Json) = 7;
    const mf = recordUpdate({
      before: live,
      after,
      manager: "kubectl-scale",
      apiVersion: "apps/v1",
      now: T1,
      listType: DEPLOY_TYPES,
    });
    assert.deepEqual(entry(mf, "kubectl-scale").fieldsV1, { "f:spec": { "f:replicas": {} } });
    assert.equal(entry(mf, "kubectl-scale").time, T1);
    const csa = entry(mf, "kubectl-client-side-apply");
    assert.equal(at(csa.fieldsV1, "f:spec.f:replicas"), undefined);
    assert.equal(csa.time, T0);
  });

  it("a write that changes nothing leaves managedFields as they were", () => {
    const live = created(deployment(), "kubectl-create");
    const mf = recordUpdate({
      before: live,
      after: structuredClone(live),
      manager: "kubectl-edit",
      apiVersion: "apps/v1",
      now: T2,
      listType: DEPLOY_TYPES,
    });
    assert.deepEqual(mf, (live["metadata"] as Obj)["managedFields"]);
  });

  it("a removed field is dropped from its owner, and an owner left with nothing disappears", () => {
    const live = created(deployment({ labels: { app: "web", team: "a" } }), "kubectl-create");
    const labeled = structuredClone(live);
    ((labeled["metadata"] as Obj)["labels"] as Obj)["team"] = "b";
    const mf1 = recordUpdate({
      before: live,
      after: labeled,
      manager: "kubectl-label",
      apiVersion: "apps/v1",
      now: T1,
      listType: DEPLOY_TYPES,
    });
    const live2 = withManagedFields(labeled, mf1);
    const unlabeled = structuredClone(live2);
    delete ((unlabeled["metadata"] as Obj)["labels"] as Obj)["team"];
    const mf2 = recordUpdate({
      before: live2,
      after: unlabeled,
      manager: "kubectl-label",
      apiVersion: "apps/v1",
      now: T2,
      listType: DEPLOY_TYPES,
    });
    assert.deepEqual(
      mf2.map((e) => e.manager),
      ["kubectl-create"],
    );
  });

  it("managedFields: [{}] in the request clears ownership", () => {
    const live = created(deployment(), "kubectl-create");
    const after = structuredClone(live);
    (after["metadata"] as Obj)["managedFields"] = [{}];
    assert.deepEqual(
      recordUpdate({
        before: live,
        after,
        manager: "x",
        apiVersion: "apps/v1",
        now: T1,
        listType: DEPLOY_TYPES,
      }),
      [],
    );
  });
});
