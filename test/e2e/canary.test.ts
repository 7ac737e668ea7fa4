import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { eventually, startStack, type Stack } from "@pipecd-ts/testkit";
import {
  files,
  startSeedStack,
  vsRoutes as liveRoutes,
  type Route,
  waitingForApproval,
} from "./fixtures.js";

// The seed's Istio canary (PipeCD examples v0/kubernetes/mesh-istio-canary), end to end over
// real processes: canary 50% → traffic 90/10 → WAIT_APPROVAL → primary rollout → traffic 100 →
// canary clean.

describe("seed-shaped Istio canary end to end", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  const apps = () => kc.makeApiClient(k8s.AppsV1Api);
  const vsRoutes = (): Promise<Route[]> => liveRoutes(kc);
  const image = async (name: string): Promise<string | undefined> =>
    (await apps().readNamespacedDeployment({ name, namespace: "default" })).spec?.template.spec
      ?.containers[0]?.image;
  const exists = async (name: string): Promise<boolean> =>
    apps()
      .readNamespacedDeployment({ name, namespace: "default" })
      .then(
        () => true,
        () => false,
      );

  before(async () => {
    ({ s, kc, appId } = await startSeedStack(
      { users: [{ username: "reviewer", role: "editor" }], readyDelayMs: 200 },
      "v0.1.0",
    ));
  });
  after(async () => s?.close());

  it("an image bump runs the pipeline: 1 ready canary, 90/10 while waiting, then primary rolled and canary gone", async () => {
    await s.repo.commit(files("v0.2.0"), "bump to v0.2.0");
    const d = await s.waitDeployment(
      appId,
      waitingForApproval("bump to v0.2.0"),
      90_000,
      "waiting for approval",
    );
    const canary = await apps().readNamespacedDeployment({
      name: "canary-app-canary",
      namespace: "default",
    });
    assert.equal(canary.status?.readyReplicas, 1, "canary 50% of 2 = 1 ready replica");
    assert.equal(
      canary.spec?.template.spec?.containers[0]?.image,
      "ghcr.io/pipe-cd/helloworld:v0.2.0",
    );
    assert.equal(
      await image("canary-app"),
      "ghcr.io/pipe-cd/helloworld:v0.1.0",
      "the primary still runs the old image",
    );
    const split = await vsRoutes();
    assert.deepEqual(
      split.map((r) => [r.destination.subset, r.weight]),
      [
        ["primary", 90],
        ["canary", 10],
      ],
    );
    assert.ok(
      split.every((r) => r.destination.port?.number === 9085),
      "ports are kept during the split",
    );
    await (
      await s.as("reviewer")
    ).call("approveStage", {
      params: {
        id: d.id ?? "",
        stageId: d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.id ?? "",
      },
    });
    await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_SUCCESS",
      90_000,
      "pipeline success",
    );
    assert.deepEqual(
      (await vsRoutes()).map((r) => [r.destination.subset, r.weight, r.destination.port?.number]),
      [["primary", 100, 9085]],
      "the VirtualService equals Git's",
    );
    assert.equal(await image("canary-app"), "ghcr.io/pipe-cd/helloworld:v0.2.0");
    assert.equal(await exists("canary-app-canary"), false, "the canary is gone");
    // The cluster is Git's again (our rollout leaves no weight-0 routes or variant leftovers),
    // so drift detection says SYNCED where PipeCD would show OUT_OF_SYNC.
    const synced = await s.eventually(
      async () => {
        const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
        return a.syncState?.status === "SYNCED" || a.syncState?.status === "OUT_OF_SYNC"
          ? a
          : undefined;
      },
      15_000,
      "a sync state after the pipeline",
    );
    assert.equal(synced.syncState?.status, "SYNCED", synced.syncState?.reason);
  });

  it("a never-ready canary fails at its deadline and rolls back: 100% primary, canary and the new resource deleted", async () => {
    const bad = files("v0.3.0", {
      "canary-app/extra-cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: only-in-v3 }\ndata: { a: b }\n",
    });
    bad["canary-app/deployment.yaml"] = (bad["canary-app/deployment.yaml"] ?? "")
      .replace(
        'annotations: { sidecar.istio.io/inject: "true" }',
        'annotations: { sidecar.istio.io/inject: "true", kube-sim.pipecd.dev/never-ready: "true" }',
      )
      .replace("replicas: 2\n", "replicas: 2\n  progressDeadlineSeconds: 2\n");
    await s.repo.commit(bad, "broken v0.3.0");
    const d = await s.waitDeployment(
      appId,
      (x) => x.trigger?.commit?.message === "broken v0.3.0" && x.status === "DEPLOYMENT_FAILURE",
      90_000,
      "failure after rollback",
    );
    assert.equal(d.stages?.find((st) => st.name === "K8S_CANARY_ROLLOUT")?.status, "STAGE_FAILURE");
    assert.equal(d.stages?.find((st) => st.name === "ROLLBACK")?.status, "STAGE_SUCCESS");
    assert.deepEqual(
      (await vsRoutes()).map((r) => [r.destination.subset, r.weight]),
      [["primary", 100]],
    );
    assert.equal(await exists("canary-app-canary"), false, "canary deleted");
    assert.equal(
      await image("canary-app"),
      "ghcr.io/pipe-cd/helloworld:v0.2.0",
      "primary still on the last good image",
    );
    // The canary's ConfigMap copy is gone, and rollback handled what only the failed commit added.
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await eventually(
      async () =>
        core.readNamespacedConfigMap({ name: "only-in-v3-canary", namespace: "default" }).then(
          () => false,
          () => true,
        ),
      10_000,
      "the canary ConfigMap copy to be deleted",
    );
    const logs = await s.admin.call("getStageLogs", {
      params: { id: d.id ?? "", stageId: "Rollback" },
    });
    assert.ok(
      logs.blocks.some((b) => /only the failed commit added/.test(b.log ?? "")),
      "rollback deletes resources only the failed commit added",
    );
  });

  /** Bumps the image, waits for the approval stage, then applies `act`; expects a full rollback. */
  const rollsBack = async (
    img: string,
    act: (id: string, stageId: string) => Promise<unknown>,
    status: string,
  ): Promise<void> => {
    await s.repo.commit(files(img), `bump to ${img}`);
    const d = await s.waitDeployment(
      appId,
      waitingForApproval(`bump to ${img}`),
      90_000,
      `${img} waiting for approval`,
    );
    assert.deepEqual(
      (await vsRoutes()).map((r) => r.weight),
      [90, 10],
    );
    await act(d.id ?? "", d.stages?.find((st) => st.name === "WAIT_APPROVAL")?.id ?? "");
    const done = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === status,
      90_000,
      `${img} ${status}`,
    );
    assert.equal(done.stages?.find((st) => st.name === "ROLLBACK")?.status, "STAGE_SUCCESS");
    assert.deepEqual(
      (await vsRoutes()).map((r) => [r.destination.subset, r.weight]),
      [["primary", 100]],
    );
    assert.equal(await exists("canary-app-canary"), false, "canary deleted");
    assert.equal(
      await image("canary-app"),
      "ghcr.io/pipe-cd/helloworld:v0.2.0",
      "primary unchanged",
    );
  };

  it("a rejection rolls back the same way", async () => {
    await rollsBack(
      "v0.4.0",
      async (id, stageId) =>
        (await s.as("reviewer")).call("rejectStage", {
          params: { id, stageId },
          body: { reason: "error rate up" },
        }),
      "DEPLOYMENT_FAILURE",
    );
  });

  it("a cancel rolls back the same way", async () => {
    await rollsBack(
      "v0.5.0",
      (id) => s.admin.call("cancelDeployment", { params: { id }, body: { rollback: true } }),
      "DEPLOYMENT_CANCELLED",
    );
  });
});

describe("podselector (blue/green by Service selector) end to end", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  const cfg = (traffic: string): string => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: { replicas: 100% }
      - name: K8S_TRAFFIC_ROUTING
        with: { ${traffic} }
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with: { primary: 100 }
      - name: K8S_CANARY_CLEAN
  trafficRouting: { method: podselector }
`;
  const app = (image: string, traffic = "canary: 100"): Record<string, string> => ({
    "bg/app.pipecd.yaml": cfg(traffic),
    "bg/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: bg }
spec:
  replicas: 1
  selector: { matchLabels: { app: bg, pipecd.dev/variant: primary } }
  template:
    metadata: { labels: { app: bg, pipecd.dev/variant: primary } }
    spec: { containers: [{ name: bg, image: "example/bg:${image}" }] }
`,
    "bg/service.yaml": `apiVersion: v1
kind: Service
metadata: { name: bg }
spec:
  selector: { app: bg, pipecd.dev/variant: primary }
  ports: [{ port: 80 }]
`,
  });
  before(async () => {
    s = await startStack({ readyDelayMs: 100 });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    await s.startPiped();
  });
  after(async () => s?.close());

  it("switches the Service to the canary, rolls the primary, switches back; a 90/10 split is refused", async () => {
    await s.repo.commit(app("v1"), "bg v1");
    const appId = await s.addApp("bg", "bg");
    await s.waitDeployment(
      appId,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "first quick sync",
    );
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const selector = async () =>
      (await core.readNamespacedService({ name: "bg", namespace: "default" })).spec?.selector?.[
        "pipecd.dev/variant"
      ];
    const seen = new Set<string>();
    await s.repo.commit(app("v2"), "bg v2");
    await eventually(
      async () => {
        const v = await selector().catch(() => undefined);
        if (v) seen.add(v);
        return (await s.deployments(appId)).some(
          (x) => x.trigger?.commit?.message === "bg v2" && x.status === "DEPLOYMENT_SUCCESS",
        );
      },
      60_000,
      "blue/green success",
    );
    assert.ok(
      seen.has("canary"),
      `the Service pointed at the canary at some point (saw ${[...seen].join(", ")})`,
    );
    assert.equal(await selector(), "primary");
    const dep = await kc
      .makeApiClient(k8s.AppsV1Api)
      .readNamespacedDeployment({ name: "bg", namespace: "default" });
    assert.equal(dep.spec?.template.spec?.containers[0]?.image, "example/bg:v2");
    await s.repo.commit(app("v3", "primary: 90, canary: 10"), "bg split");
    const a = await s.eventually(
      async () => {
        const x = (await s.admin.call("getApplication", { params: { id: appId } })).application;
        return x.syncState?.status === "INVALID_CONFIG" ? x : undefined;
      },
      30_000,
      "INVALID_CONFIG for a podselector split",
    );
    assert.match(
      a.syncState?.reason ?? "",
      /stages\[1\]\.with: podselector routing can only send all traffic to primary or canary/,
    );
  });
});
