import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
} from "@pipecd-ts/runtime";
import {
  RESOURCE_KEY_ANNOTATION,
  createKubeClient,
  loadKubeConfig,
  resourceKey,
  type KubeClient,
  type KubeObject,
} from "../src/index.js";
import { configMap, deployment, istioCrds, startFixture, type Fixture } from "./fixture.js";

/** A VirtualService routing `weight`% to the canary subset. */
function virtualService(name: string, canaryWeight: unknown): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: "default" },
    spec: {
      hosts: [name],
      http: [
        {
          route: [
            { destination: { host: name, subset: "primary" }, weight: 100 },
            { destination: { host: name, subset: "canary" }, weight: canaryWeight },
          ],
        },
      ],
    },
  };
}

/** A CRD of kind `kind` in group example.com, version v1. */
function crd(kind: string): KubeObject {
  const plural = `${kind.toLowerCase()}s`;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.example.com` },
    spec: {
      group: "example.com",
      scope: "Namespaced",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          },
        },
      ],
    },
  };
}

/** The field managers recorded on an object, as `manager/operation`. */
function managers(o: KubeObject | undefined): string[] {
  return ((o?.metadata.managedFields ?? []) as { manager: string; operation: string }[]).map(
    (m) => `${m.manager}/${m.operation}`,
  );
}

const web = { apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "web" };

describe("KubeClient against kube-sim", () => {
  let f: Fixture;
  let kube: KubeClient;

  before(async () => {
    f = await startFixture();
    kube = f.client();
  });
  after(async () => f?.close());

  it("apply creates a Deployment, then updates the same object, as field manager piped", async () => {
    const created = await kube.apply(deployment("web", { replicas: 2 }));
    assert.ok(created.metadata.uid);
    assert.equal(created.metadata.generation, 1);
    assert.deepEqual(managers(created), ["piped/Apply"]);

    const updated = await kube.apply(deployment("web", { replicas: 3, image: "nginx:1.26" }));
    assert.equal(updated.metadata.uid, created.metadata.uid);
    assert.equal(updated.metadata.generation, 2);

    const live = await kube.get(web);
    const spec = live?.spec as {
      replicas: number;
      template: { spec: { containers: { image: string }[] } };
    };
    assert.equal(spec.replicas, 3);
    assert.equal(spec.template.spec.containers[0]?.image, "nginx:1.26");
    // Plain JSON, not client-node model classes: timestamps stay strings.
    assert.equal(typeof live?.metadata.creationTimestamp, "string");
  });

  it("apply puts a namespaced manifest without a namespace into default", async () => {
    const cm = configMap("no-ns");
    delete cm.metadata.namespace;
    const out = await kube.apply(cm);
    assert.equal(out.metadata.namespace, "default");
  });

  it("apply with dryRun validates without persisting", async () => {
    const out = await kube.apply(configMap("dry"), { dryRun: true });
    assert.equal(out.metadata.name, "dry");
    assert.equal(
      await kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "dry" }),
      undefined,
    );
  });

  it("apply of an invalid Deployment fails with FailedPrecondition carrying the API message", async () => {
    await assert.rejects(kube.apply(deployment("bad", { replicas: -1 })), (err: Error) => {
      assert.ok(err instanceof FailedPreconditionError, String(err));
      assert.equal(
        err.message,
        'apply Deployment default/bad: Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      );
      return true;
    });
  });

  it("a kind whose CRD is missing is NotFound until the CRD is applied, then it is discovered", async () => {
    await assert.rejects(kube.apply(virtualService("web", 0)), (err: Error) => {
      assert.ok(err instanceof NotFoundError, String(err));
      assert.match(err.message, /^apply VirtualService web: no matches for kind "VirtualService"/);
      return true;
    });
    for (const c of await istioCrds()) await kube.apply(c);
    const vs = await kube.apply(virtualService("web", 20));
    assert.equal(vs.kind, "VirtualService");
    assert.deepEqual(managers(vs), ["piped/Apply"]);
  });

  it("apply of an invalid VirtualService keeps the API's schema message", async () => {
    for (const c of await istioCrds()) await kube.apply(c);
    await assert.rejects(kube.apply(virtualService("web-bad", "heavy")), (err: Error) => {
      assert.ok(err instanceof FailedPreconditionError, String(err));
      assert.match(
        err.message,
        /^apply VirtualService default\/web-bad: VirtualService\.networking\.istio\.io "web-bad" is invalid: \[?spec\.http\[0\]\.route\[1\]\.weight: Invalid value: "string": spec\.http\[0\]\.route\[1\]\.weight in body must be of type integer/,
      );
      return true;
    });
  });

  it("discovery finds a CRD added to an already cached group-version and reports unknown kinds as NotFound", async () => {
    await kube.apply(crd("Widget"));
    assert.deepEqual(await kube.discovery.resourceFor("example.com/v1", "Widget"), {
      plural: "widgets",
      namespaced: true,
    });
    // A CRD added later in the same group-version: the cached list misses it, one refetch finds it.
    await kube.apply(crd("Gadget"));
    assert.deepEqual(await kube.discovery.resourceFor("example.com/v1", "Gadget"), {
      plural: "gadgets",
      namespaced: true,
    });
    assert.deepEqual(await kube.discovery.resourceFor("v1", "Namespace"), {
      plural: "namespaces",
      namespaced: false,
    });
    await assert.rejects(kube.discovery.resourceFor("example.com/v1", "Gizmo"), NotFoundError);
  });

  it("get returns undefined for a missing object", async () => {
    assert.equal(
      await kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "nope" }),
      undefined,
    );
    assert.equal(
      await kube.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "nowhere",
        name: "x",
      }),
      undefined,
    );
  });

  it("list filters by label and field selectors and fills in apiVersion and kind", async () => {
    await kube.apply(configMap("sel-a", { app: "sel", track: "stable" }));
    await kube.apply(configMap("sel-b", { app: "sel", track: "canary" }));
    await kube.apply(configMap("sel-c", { app: "sel", track: "baseline" }));
    await kube.apply(configMap("other", { app: "other" }));

    const names = (objs: KubeObject[]): string[] => objs.map((o) => o.metadata.name).sort();
    const byLabel = await kube.list("v1", "ConfigMap", "default", {
      labelSelector: "app=sel,track in (stable,canary)",
    });
    assert.deepEqual(names(byLabel), ["sel-a", "sel-b"]);
    for (const o of byLabel) {
      assert.equal(o.apiVersion, "v1");
      assert.equal(o.kind, "ConfigMap");
    }
    const byField = await kube.list("v1", "ConfigMap", "default", {
      labelSelector: "app=sel",
      fieldSelector: "metadata.name!=sel-c",
    });
    assert.deepEqual(names(byField), ["sel-a", "sel-b"]);
    assert.deepEqual(
      await kube.list("v1", "ConfigMap", "kube-public", { labelSelector: "app=sel" }),
      [],
    );
  });

  it("list follows continue tokens across pages", async () => {
    for (let i = 0; i < 5; i++) await kube.apply(configMap(`page-${i}`, { paged: "yes" }));
    const all = await kube.list("v1", "ConfigMap", undefined, {
      labelSelector: "paged=yes",
      pageSize: 2,
    });
    assert.deepEqual(
      all.map((o) => o.metadata.name),
      ["page-0", "page-1", "page-2", "page-3", "page-4"],
    );
  });

  it("deleteOwned deletes an object carrying our resource key", async () => {
    const cm = configMap("owned");
    const key = resourceKey(cm);
    cm.metadata.annotations = { [RESOURCE_KEY_ANNOTATION]: key };
    await kube.apply(cm);
    const ref = { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "owned" };
    assert.equal(await kube.deleteOwned(ref, key), "deleted");
    assert.equal(await kube.get(ref), undefined);
    assert.equal(await kube.deleteOwned(ref, key), "not-found");
  });

  it("deleteOwned refuses an object whose resource key differs or is absent", async () => {
    const ref = { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "foreign" };
    await kube.apply(
      configMap("foreign", {}, { [RESOURCE_KEY_ANNOTATION]: "v1:ConfigMap:other:foreign" }),
    );
    assert.equal(await kube.deleteOwned(ref, "v1:ConfigMap:default:foreign"), "not-owned");
    assert.ok(await kube.get(ref));

    await kube.apply(configMap("unannotated"));
    const ref2 = { ...ref, name: "unannotated" };
    assert.equal(await kube.deleteOwned(ref2, resourceKey(ref2)), "not-owned");
    assert.ok(await kube.get(ref2));
  });

  it("deleteOwned of a Deployment cascades in the background and reports not-found after", async () => {
    const d = deployment("doomed", {
      annotations: { [RESOURCE_KEY_ANNOTATION]: "apps/v1:Deployment:default:doomed" },
    });
    await kube.apply(d);
    const ref = { apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "doomed" };
    assert.equal(
      await kube.deleteOwned(ref, "apps/v1:Deployment:default:doomed", {
        propagationPolicy: "Foreground",
      }),
      "deleted",
    );
    assert.equal(await kube.deleteOwned(ref, "apps/v1:Deployment:default:doomed"), "not-found");
  });

  it("an SSA field conflict with force:false fails at once with FailedPrecondition, and force takes over", async () => {
    const other = f.client({ fieldManager: "other-tool" });
    await other.apply(deployment("contested", { replicas: 1 }));
    const counter = f.sim.faults.add({ verb: "patch", resource: "deployments", delayMs: 1 });
    try {
      await assert.rejects(
        kube.apply(deployment("contested", { replicas: 4 }), { force: false }),
        (err: Error) => {
          assert.ok(err instanceof FailedPreconditionError, String(err));
          assert.match(
            err.message,
            /^apply Deployment default\/contested: Apply failed with \d+ conflicts?: conflicts? with "other-tool"/,
          );
          assert.match(err.message, /\.spec\.replicas/);
          return true;
        },
      );
      assert.equal(f.sim.faults.list().find((x) => x.id === counter)?.hits, 1, "not retried");
    } finally {
      f.sim.faults.clear();
    }
    const forced = await kube.apply(deployment("contested", { replicas: 4 }));
    assert.equal((forced.spec as { replicas: number }).replicas, 4);
    assert.ok(managers(forced).includes("piped/Apply"));
  });

  it("applies cluster-scoped objects (no namespace in the path or the key)", async () => {
    const ns: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "canary" } };
    const out = await kube.apply(ns);
    assert.equal(out.metadata.namespace, undefined);
    assert.ok(await kube.get({ apiVersion: "v1", kind: "Namespace", name: "canary" }));
    assert.equal(resourceKey(ns, { namespaced: false }), "v1:Namespace::canary");
  });

  it("a 403 is PermissionDenied and is not retried", async () => {
    const counter = f.sim.faults.add({
      verb: "get",
      resource: "configmaps",
      name: "guarded",
      status: 403,
      message: 'configmaps "guarded" is forbidden: User "piped" cannot get resource "configmaps"',
    });
    try {
      await assert.rejects(
        kube.get({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "guarded" }),
        (err: Error) => {
          assert.ok(err instanceof PermissionDeniedError, String(err));
          assert.equal(
            err.message,
            'get ConfigMap default/guarded: configmaps "guarded" is forbidden: User "piped" cannot get resource "configmaps"',
          );
          return true;
        },
      );
      assert.equal(f.sim.faults.list().find((x) => x.id === counter)?.hits, 1);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a wrong token is Unauthenticated", async () => {
    const good = await readFile(f.sim.kubeconfigPath, "utf8");
    assert.ok(good.includes(f.sim.token));
    const path = await f.file("bad-kubeconfig", good.replace(f.sim.token, "not-the-token"));
    const client = createKubeClient({ kubeConfigPath: path });
    await assert.rejects(client.get(web), UnauthenticatedError);
  });

  it("loadKubeConfig names the path it cannot read", () => {
    assert.throws(
      () => loadKubeConfig({ kubeConfigPath: "/nonexistent/kubeconfig" }),
      (err: Error) =>
        err instanceof InvalidArgumentError && err.message.includes("/nonexistent/kubeconfig"),
    );
  });
});
