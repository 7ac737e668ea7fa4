import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { ISTIO_CRDS, eventually, startSim, type SimFixture } from "./harness.js";

type Obj = k8s.KubernetesObject & {
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  status?: Record<string, unknown>;
};

/** The HTTP status of a rejected client-node call. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

// @kubernetes/client-node 1.4.0 (the version the piped uses) against kube-sim over HTTPS.
describe("@kubernetes/client-node against kube-sim", () => {
  let f: SimFixture;
  let kc: k8s.KubeConfig;
  let obj: k8s.KubernetesObjectApi;

  before(async () => {
    f = await startSim();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(f.sim.kubeconfigPath);
    obj = k8s.KubernetesObjectApi.makeApiClient(kc);
    // CRDs through the same generic API the piped uses.
    const docs = parseAllDocuments(await readFile(ISTIO_CRDS, "utf8"))
      .map((d) => d.toJS() as Obj | null)
      .filter((d): d is Obj => !!d);
    for (const d of docs)
      await obj.patch(d, undefined, undefined, "test", true, k8s.PatchStrategy.ServerSideApply);
  });
  after(async () => f?.close());

  it("create, read, merge patch, server-side apply and delete a ConfigMap and a VirtualService", async () => {
    const cm: Obj = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: "default", labels: { app: "web" } },
      data: { a: "1" },
    };
    const created = await obj.create(cm);
    assert.ok(created.metadata?.uid);
    const read = await obj.read<Obj>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: "default" },
    });
    assert.equal(read.data?.a, "1");
    await obj.patch(
      { ...cm, data: { b: "2" } },
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    );
    const merged = await obj.read<Obj>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: "default" },
    });
    assert.deepEqual(merged.data, { a: "1", b: "2" });

    // Server-side apply upserts a VirtualService, then changes a weight.
    const vs = (weight: number): Obj => ({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "web", namespace: "default" },
      spec: {
        hosts: ["web"],
        http: [
          {
            route: [
              {
                destination: { host: "web", subset: "primary", port: { number: 80 } },
                weight: 100 - weight,
              },
              { destination: { host: "web", subset: "canary", port: { number: 80 } }, weight },
            ],
          },
        ],
      },
    });
    const applied = await obj.patch(
      vs(0),
      undefined,
      undefined,
      "piped",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
    assert.equal(applied.metadata?.name, "web");
    const updated = await obj.patch(
      vs(10),
      undefined,
      undefined,
      "piped",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
    const routes =
      (
        updated.spec?.http as {
          route: { weight: number; destination: { port: { number: number } } }[];
        }[]
      )[0]?.route ?? [];
    assert.deepEqual(
      routes.map((r) => r.weight),
      [90, 10],
    );
    assert.equal(routes[0]?.destination.port.number, 80);
    // The default strategy of KubernetesObjectApi.patch is strategic merge: a CR answers 415.
    assert.equal(await codeOf(obj.patch(vs(20))), 415);

    await obj.delete(cm);
    assert.equal(
      await codeOf(
        obj.read({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "cfg", namespace: "default" },
        }),
      ),
      404,
    );
    await obj.delete(vs(0));
  });

  it("lists with label and field selectors and pages with limit/continue", async () => {
    for (const [name, app, track] of [
      ["a", "web", "stable"],
      ["b", "web", "canary"],
      ["c", "api", "stable"],
      ["d", "web", "baseline"],
    ] as const)
      await obj.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `sel-${name}`, namespace: "default", labels: { app, track } },
      });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (
        await obj.list(
          "v1",
          "ConfigMap",
          "default",
          undefined,
          undefined,
          undefined,
          fieldSelector,
          labelSelector,
        )
      ).items.map((i) => i.metadata?.name);
    assert.deepEqual(await names("app=web,track in (stable,canary)"), ["sel-a", "sel-b"]);
    assert.deepEqual(await names("app!=web"), ["sel-c"]);
    assert.deepEqual(await names("app=web", "metadata.name=sel-d"), ["sel-d"]);
    assert.equal(await codeOf(names("app=web", "spec.foo=bar")), 400);
    const page1 = await obj.list(
      "v1",
      "ConfigMap",
      "default",
      undefined,
      undefined,
      undefined,
      undefined,
      "app",
      2,
    );
    assert.equal(page1.items.length, 2);
    assert.ok(page1.metadata?._continue, "a continue token");
    const page2 = await obj.list(
      "v1",
      "ConfigMap",
      "default",
      undefined,
      undefined,
      undefined,
      undefined,
      "app",
      2,
      page1.metadata?._continue,
    );
    assert.deepEqual(
      [...page1.items, ...page2.items].map((i) => i.metadata?.name),
      ["sel-a", "sel-b", "sel-c", "sel-d"],
    );
  });

  it("Watch receives ADDED, MODIFIED and DELETED in order", async () => {
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const ac = await watch.watch(
      "/api/v1/namespaces/default/configmaps",
      { labelSelector: "watched=yes", allowWatchBookmarks: true },
      (type: string, o: Obj) => {
        if (type !== "BOOKMARK")
          events.push(`${type} ${o.metadata?.name ?? ""} ${o.data?.v ?? ""}`);
      },
      () => undefined,
    );
    try {
      const cm: Obj = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "w1", namespace: "default", labels: { watched: "yes" } },
        data: { v: "1" },
      };
      await obj.create(cm);
      await obj.patch(
        { ...cm, data: { v: "2" } },
        undefined,
        undefined,
        undefined,
        undefined,
        k8s.PatchStrategy.MergePatch,
      );
      await obj.delete(cm);
      await eventually(async () => events.length >= 3, 5_000, "three watch events");
      assert.deepEqual(events, ["ADDED w1 1", "MODIFIED w1 2", "DELETED w1 2"]);
    } finally {
      ac.abort();
    }
  });

  it("a Deployment rolls out: ReplicaSet, Pods with owner references and pod-template-hash, ready status", async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await apps.createNamespacedDeployment({
      namespace: "default",
      body: {
        metadata: { name: "api", labels: { app: "api" } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "api" } },
          template: {
            metadata: { labels: { app: "api" } },
            spec: { containers: [{ name: "api", image: "api:v1" }] },
          },
        },
      },
    });
    const d = await eventually(
      async () => {
        const x = await apps.readNamespacedDeployment({ name: "api", namespace: "default" });
        return x.status?.availableReplicas === 2 &&
          x.status.observedGeneration === x.metadata?.generation
          ? x
          : undefined;
      },
      10_000,
      "deployment api available",
    );
    assert.equal(
      d.status?.conditions?.find((c) => c.type === "Progressing")?.reason,
      "NewReplicaSetAvailable",
    );
    const pods = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=api" });
    assert.equal(pods.items.length, 2);
    for (const p of pods.items) {
      assert.equal(p.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
      assert.ok(p.metadata?.labels?.["pod-template-hash"]);
      assert.equal(p.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
    }
    // A stale replace is a 409 Conflict.
    const stale = await apps.readNamespacedDeployment({ name: "api", namespace: "default" });
    await apps.patchNamespacedDeployment({
      name: "api",
      namespace: "default",
      body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
    });
    assert.equal(
      await codeOf(
        apps.replaceNamespacedDeployment({ name: "api", namespace: "default", body: stale }),
      ),
      409,
    );
  });

  it("an invalid VirtualService is rejected with 422 naming the field", async () => {
    const co = kc.makeApiClient(k8s.CustomObjectsApi);
    let body: {
      code?: number;
      reason?: string;
      message?: string;
      details?: { causes?: { field: string }[] };
    } = {};
    try {
      await co.createNamespacedCustomObject({
        group: "networking.istio.io",
        version: "v1",
        namespace: "default",
        plural: "virtualservices",
        body: {
          apiVersion: "networking.istio.io/v1",
          kind: "VirtualService",
          metadata: { name: "bad" },
          spec: {
            hosts: ["x"],
            http: [{ route: [{ destination: { host: "x" }, weight: "string" }] }],
          },
        },
      });
      assert.fail("expected a 422");
    } catch (err) {
      assert.equal((err as { code?: number }).code, 422);
      body = JSON.parse((err as { body: string }).body) as typeof body;
    }
    assert.equal(body.reason, "Invalid");
    assert.equal(body.details?.causes?.[0]?.field, "spec.http[0].route[0].weight");
    assert.match(
      body.message ?? "",
      /VirtualService\.networking\.istio\.io "bad" is invalid: \[?spec\.http\[0\]\.route\[0\]\.weight: Invalid value: "string": spec\.http\[0\]\.route\[0\]\.weight in body must be of type integer/,
    );
  });

  it("injected faults return the chosen status for N requests, then normal behaviour resumes", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "faulty" } },
    });
    f.sim.faults.add({
      verb: "get",
      resource: "configmaps",
      name: "faulty",
      status: 503,
      count: 2,
    });
    assert.equal(
      await codeOf(core.readNamespacedConfigMap({ name: "faulty", namespace: "default" })),
      503,
    );
    assert.equal(
      await codeOf(core.readNamespacedConfigMap({ name: "faulty", namespace: "default" })),
      503,
    );
    assert.equal(
      await codeOf(core.readNamespacedConfigMap({ name: "faulty", namespace: "default" })),
      200,
    );
    f.sim.faults.add({ verb: "patch", resource: "configmaps", status: 409 });
    assert.equal(
      await codeOf(
        obj.patch(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "faulty", namespace: "default" },
            data: { x: "y" },
          },
          undefined,
          undefined,
          "t",
          true,
          k8s.PatchStrategy.ServerSideApply,
        ),
      ),
      409,
    );
    f.sim.faults.clear();
    assert.equal(
      await codeOf(
        obj.patch(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "faulty", namespace: "default" },
            data: { x: "y" },
          },
          undefined,
          undefined,
          "t",
          true,
          k8s.PatchStrategy.ServerSideApply,
        ),
      ),
      200,
    );
  });
});
