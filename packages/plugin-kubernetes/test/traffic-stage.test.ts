import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { parseAllDocuments } from "yaml";
import { parseApplicationConfig, type K8sTrafficRoutingStageOptions } from "@pipecd-ts/config";
import { createKubeClient, type KubeClient, type KubeObject } from "@pipecd-ts/kube";
import { startKubeSim, NEVER_READY_ANNOTATION, type KubeSim } from "@pipecd-ts/kube-sim";
import type { MetadataScope, StageInput } from "@pipecd-ts/plugin-sdk";
import { DeploymentSchema, PipelineStageSchema, StageStatus } from "@pipecd-ts/proto";
import { systemClock } from "@pipecd-ts/runtime";
import { K8sTrafficRoutingExecutor, ManifestSource } from "../src/index.js";

const APP_ID = "app-web";
const VARIANT = "pipecd.dev/variant";

let sim: KubeSim;
let kube: KubeClient;
let dir: string;
let seq = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "k8s-traffic-"));
  sim = await startKubeSim({ port: 0, kubeconfigPath: join(dir, "kubeconfig"), readyDelayMs: 50 });
  kube = createKubeClient({
    kubeConfigPath: sim.kubeconfigPath,
    retry: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const crds = await readFile(
    new URL("../../../deploy/examples/istio-crds.yaml", import.meta.url),
    "utf8",
  );
  for (const d of parseAllDocuments(crds)) {
    const o = d.toJS() as KubeObject | null;
    if (o) await kube.apply(o);
  }
});

after(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh namespace per test, so every test starts from an empty cluster state. */
async function namespace(): Promise<string> {
  const ns = `t${++seq}`;
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  return ns;
}

const deployment = (
  ns: string,
  name: string,
  variant: string,
  o: { neverReady?: boolean; annotations?: Record<string, string> } = {},
): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: ns, annotations: o.annotations },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: "web", [VARIANT]: variant } },
    template: {
      metadata: {
        labels: { app: "web", [VARIANT]: variant },
        annotations: o.neverReady ? { [NEVER_READY_ANNOTATION]: "true" } : {},
      },
      spec: { containers: [{ name: "web", image: "ghcr.io/pipe-cd/helloworld:v1" }] },
    },
  },
});

/** The app's Git manifests: the primary Deployment, its Service and VirtualService(s). */
function manifests(ns: string, extraVs = false): string {
  const docs = [
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web, ${VARIANT}: primary } }
  template:
    metadata: { labels: { app: web, ${VARIANT}: primary } }
    spec: { containers: [{ name: web, image: "ghcr.io/pipe-cd/helloworld:v1" }] }`,
    `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web, ${VARIANT}: primary }
  ports: [{ port: 9085, targetPort: 9085 }]`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web]
  http:
    - name: primary
      timeout: 5s
      route:
        - destination: { host: web.${ns}.svc.cluster.local, subset: primary, port: { number: 9085 } }
          weight: 100`,
  ];
  if (extraVs)
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web-internal }
spec:
  hosts: [web-internal]
  http: [{ route: [{ destination: { host: web-internal } }] }]`);
  return docs.join("\n---\n");
}

/** Real executor and cluster; in-memory fakes for the StageInput collaborators only. */
async function stage(
  ns: string,
  method: "istio" | "podselector" | "smi",
  withOpts: Partial<K8sTrafficRoutingStageOptions>,
  o: { extraVs?: boolean } = {},
) {
  const appDir = await mkdtemp(join(dir, "app-"));
  await writeFile(join(appDir, "app.yaml"), manifests(ns, o.extraVs));
  const routingStages = method === "smi" ? "" : `    - name: K8S_TRAFFIC_ROUTING\n`;
  const cfg = parseApplicationConfig(
    "app.pipecd.yaml",
    `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  input: { namespace: ${ns} }
  service: { name: web }
  trafficRouting:
    method: ${method}
    istio: { host: web.${ns}.svc.cluster.local }
  pipeline:
    stages:
    - name: K8S_CANARY_ROLLOUT
${routingStages}`,
  );
  const meta = new Map<string, Record<string, string>>();
  const scope = (id: string): MetadataScope => ({
    get: (k) => meta.get(id)?.[k],
    all: () => meta.get(id) ?? {},
    put: async (v) => {
      meta.set(id, { ...(meta.get(id) ?? {}), ...v });
    },
  });
  const logs: string[] = [];
  const input: StageInput<never> = {
    deployment: create(DeploymentSchema, { id: "d1", applicationId: APP_ID }),
    stage: create(PipelineStageSchema, { id: "route", name: "K8S_TRAFFIC_ROUTING" }),
    stageConfig: withOpts as never,
    appConfig: cfg,
    targetDir: appDir,
    runningDir: undefined,
    targetCommit: "0123456789abcdef",
    runningCommit: undefined,
    pipedId: "piped-1",
    signal: new AbortController().signal,
    logger: {
      info: (t) => logs.push(`I ${t}`),
      success: (t) => logs.push(`S ${t}`),
      error: (t) => logs.push(`E ${t}`),
    },
    metadata: { shared: scope("shared"), stage: scope },
    commands: {
      next: () => Promise.reject(new Error("no commands in this test")),
      ack: async () => {},
    },
    clock: systemClock,
  };
  const status = await new K8sTrafficRoutingExecutor({
    kube,
    manifests: new ManifestSource(),
  }).execute(input);
  return { status, logs, meta: meta.get("route") ?? {} };
}

/** The primary Deployment plus a canary `web-canary` (owned by the app); waits unless never-ready. */
async function variants(ns: string, o: { canaryNeverReady?: boolean } = {}): Promise<void> {
  await kube.apply(deployment(ns, "web", "primary"));
  await kube.apply(
    deployment(ns, "web-canary", "canary", {
      neverReady: o.canaryNeverReady,
      annotations: { "pipecd.dev/application": APP_ID, [VARIANT]: "canary" },
    }),
  );
  const signal = AbortSignal.timeout(30_000);
  await kube.waitForRollout(
    { apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name: "web" },
    { timeoutMs: 30_000, signal },
  );
  if (!o.canaryNeverReady)
    await kube.waitForRollout(
      { apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name: "web-canary" },
      { timeoutMs: 30_000, signal },
    );
}

const vsRef = (ns: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  namespace: ns,
  name: "web",
});
type Route = { destination: { host: string; subset: string; port?: unknown }; weight?: number };
const liveRoutes = async (ns: string): Promise<Route[]> => {
  const vs = await kube.get(vsRef(ns));
  return (vs?.spec as { http: { route: Route[] }[] }).http[0]?.route ?? [];
};
const gitVsSpec = (ns: string): unknown =>
  (parseAllDocuments(manifests(ns))[2]?.toJS() as KubeObject).spec;

describe("K8S_TRAFFIC_ROUTING with istio", () => {
  it("90/10 writes a VirtualService whose live weights are 90/10, port kept", async () => {
    const ns = await namespace();
    await variants(ns);
    const r = await stage(ns, "istio", { primary: 90, canary: 10 }, { extraVs: true });
    assert.equal(r.status, StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
    const routes = await liveRoutes(ns);
    assert.deepEqual(
      routes.map((d) => [d.destination.subset, d.weight]),
      [
        ["primary", 90],
        ["canary", 10],
      ],
    );
    for (const d of routes) assert.deepEqual(d.destination.port, { number: 9085 });
    const vs = await kube.get(vsRef(ns));
    assert.equal(vs?.metadata.annotations?.[VARIANT], "primary");
    assert.equal(vs?.metadata.annotations?.["pipecd.dev/commit-hash"], "0123456789abcdef");
    assert.deepEqual(r.meta, {
      "primary-percentage": "90",
      "canary-percentage": "10",
      "baseline-percentage": "0",
    });
    assert.ok(
      r.logs.includes(`I route "primary": primary 100 → 90, canary 0 → 10`),
      r.logs.join("\n"),
    );
    assert.ok(r.logs.some((l) => l.includes("only the first one will be used")));
  });

  it("primary 100 restores the VirtualService exactly as in Git", async () => {
    const ns = await namespace();
    await variants(ns);
    assert.equal((await stage(ns, "istio", { canary: 30 })).status, StageStatus.STAGE_SUCCESS);
    const r = await stage(ns, "istio", { primary: 100 });
    assert.equal(r.status, StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
    assert.deepEqual((await kube.get(vsRef(ns)))?.spec, gitVsSpec(ns));
    assert.ok(
      r.logs.includes(`I route "primary": primary 70 → 100, canary 30 → 0`),
      r.logs.join("\n"),
    );
  });

  it("a canary with no available pods gets no traffic and the VirtualService is unchanged", async () => {
    const ns = await namespace();
    await variants(ns, { canaryNeverReady: true });
    assert.equal((await stage(ns, "istio", { primary: 100 })).status, StageStatus.STAGE_SUCCESS);
    const beforeVs = await kube.get(vsRef(ns));
    const r = await stage(ns, "istio", { primary: 90, canary: 10 });
    assert.equal(r.status, StageStatus.STAGE_FAILURE);
    assert.ok(
      r.logs.some((l) => l.startsWith("E ") && l.includes("the canary has no available pods")),
      r.logs.join("\n"),
    );
    const afterVs = await kube.get(vsRef(ns));
    assert.equal(afterVs?.metadata.resourceVersion, beforeVs?.metadata.resourceVersion);
    assert.deepEqual(afterVs?.spec, gitVsSpec(ns));
  });

  it("a persistent API error on the VirtualService fails the stage with the API's message", async () => {
    const ns = await namespace();
    await variants(ns);
    const id = sim.faults.add({
      verb: "patch",
      resource: "virtualservices",
      status: 500,
      message: "etcd is on fire",
    });
    try {
      const r = await stage(ns, "istio", { primary: 90, canary: 10 });
      assert.equal(r.status, StageStatus.STAGE_FAILURE);
      assert.ok(
        r.logs.some((l) => l.startsWith("E ") && l.includes("etcd is on fire")),
        r.logs.join("\n"),
      );
    } finally {
      assert.ok(id);
      sim.faults.clear();
    }
    assert.equal(await kube.get(vsRef(ns)), undefined, "nothing was written");
  });

  it("smi is refused as unsupported", async () => {
    const ns = await namespace();
    const r = await stage(ns, "smi", { canary: 10 });
    assert.equal(r.status, StageStatus.STAGE_FAILURE);
    assert.ok(r.logs.includes("E unsupported traffic routing method smi"), r.logs.join("\n"));
    assert.equal(r.meta["canary-percentage"], "10", "the split is recorded first");
  });
});

describe("K8S_TRAFFIC_ROUTING with podselector", () => {
  const selector = async (ns: string): Promise<unknown> =>
    (
      (await kube.get({ apiVersion: "v1", kind: "Service", namespace: ns, name: "web" }))?.spec as {
        selector?: unknown;
      }
    )?.selector;

  it("canary 100 flips the Service selector to canary; primary 100 flips it back", async () => {
    const ns = await namespace();
    await variants(ns);
    const r = await stage(ns, "podselector", { all: "canary" });
    assert.equal(r.status, StageStatus.STAGE_SUCCESS, r.logs.join("\n"));
    assert.deepEqual(await selector(ns), { app: "web", [VARIANT]: "canary" });
    assert.equal(
      (await stage(ns, "podselector", { primary: 100 })).status,
      StageStatus.STAGE_SUCCESS,
    );
    assert.deepEqual(await selector(ns), { app: "web", [VARIANT]: "primary" });
  });

  it("a 90/10 split is rejected without touching the Service", async () => {
    const ns = await namespace();
    const r = await stage(ns, "podselector", { primary: 90, canary: 10 });
    assert.equal(r.status, StageStatus.STAGE_FAILURE);
    assert.ok(
      r.logs.some((l) => l.includes("requires either PRIMARY or CANARY must be 100")),
      r.logs.join("\n"),
    );
    assert.equal(await selector(ns), undefined);
  });
});
