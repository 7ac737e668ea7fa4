import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import type { Stack, DeploymentJson } from "@pipecd-ts/testkit";
import { HOST, files, startSeedStack, vsRoutes, waitingForApproval } from "./fixtures.js";

// Our improvements' switches (`spec.safety`, DESIGN §8) end to end on the seed app: rollback
// deletes what only the failed commit added (PipeCD #1972) unless `rollbackPrune: false`; with
// `waitForReady`/`verifyTraffic` off a never-ready canary gets traffic as in PipeCD; cancel
// without rollback leaves everything in place; `rollbackTimeout` bounds the Rollback stage.

type D = DeploymentJson;

const NEVER_READY =
  'annotations: { sidecar.istio.io/inject: "true", kube-sim.pipecd.dev/never-ready: "true" }';

/** The seed app's files at `image`, with its app config replaced by `stages` and `safety`. */
function app(
  image: string,
  o: { stages?: string[]; safety?: string; neverReady?: boolean; extra?: Record<string, string> },
): Record<string, string> {
  const out = files(image, o.extra);
  const pipeline = o.stages?.length
    ? `  pipeline:\n    stages:\n${o.stages.map((s) => `      - ${s}\n`).join("")}`
    : "";
  out["canary-app/app.pipecd.yaml"] = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: canary-app
${pipeline}  trafficRouting:
    method: istio
    istio:
      host: ${HOST}
${o.safety ? `  safety: ${o.safety}\n` : ""}`;
  if (o.neverReady)
    out["canary-app/deployment.yaml"] = (out["canary-app/deployment.yaml"] ?? "").replace(
      'annotations: { sidecar.istio.io/inject: "true" }',
      NEVER_READY,
    );
  return out;
}

const configMap = (name: string): Record<string, string> => ({
  [`canary-app/${name}.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\ndata: { a: b }\n`,
});

describe("safety switches (spec.safety) end to end", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  const apps = () => kc.makeApiClient(k8s.AppsV1Api);
  const core = () => kc.makeApiClient(k8s.CoreV1Api);
  const image = async (name: string): Promise<string | undefined> =>
    (await apps().readNamespacedDeployment({ name, namespace: "default" })).spec?.template.spec
      ?.containers[0]?.image;
  const exists = (p: Promise<unknown>): Promise<boolean> =>
    p.then(
      () => true,
      () => false,
    );
  const configMapExists = (name: string) =>
    exists(core().readNamespacedConfigMap({ name, namespace: "default" }));
  const deploymentExists = (name: string) =>
    exists(apps().readNamespacedDeployment({ name, namespace: "default" }));
  const stage = (d: D, name: string) => d.stages?.find((st) => st.name === name);
  const stageLog = async (d: D, name: string): Promise<string> =>
    (
      await s.admin.call("getStageLogs", {
        params: { id: d.id ?? "", stageId: stage(d, name)?.id ?? "" },
      })
    ).blocks
      .map((b) => b.log ?? "")
      .join("\n");
  /** Commits `f` and waits until its WAIT_APPROVAL stage runs. */
  const untilApproval = (f: Record<string, string | null>, msg: string): Promise<D> =>
    s.repo
      .commit(f, msg)
      .then(() =>
        s.waitDeployment(appId, waitingForApproval(msg), 90_000, `${msg} waiting for approval`),
      );
  const final = (d: D, status: string): Promise<D> =>
    s.waitDeployment(appId, (x) => x.id === d.id && x.status === status, 90_000, status);
  const reject = async (d: D): Promise<void> => {
    await s.admin.call("rejectStage", {
      params: { id: d.id ?? "", stageId: stage(d, "WAIT_APPROVAL")?.id ?? "" },
      body: { reason: "not good" },
    });
  };
  const AFTER_PRIMARY = [
    "name: K8S_CANARY_ROLLOUT",
    "name: K8S_PRIMARY_ROLLOUT",
    "name: WAIT_APPROVAL",
    "name: K8S_CANARY_CLEAN",
  ];

  before(async () => {
    ({ s, kc, appId } = await startSeedStack({ readyDelayMs: 100 }, "v0.1.0"));
  });
  after(async () => s?.close());

  it("#1972: a failure after the primary rollout deletes the resource only the failed commit added", async () => {
    const d = await untilApproval(
      app("v0.2.0", { stages: AFTER_PRIMARY, extra: configMap("only-in-v2") }),
      "v0.2.0 adds a ConfigMap",
    );
    assert.equal(await configMapExists("only-in-v2"), true, "live before the failure");
    assert.equal(await image("canary-app"), "ghcr.io/pipe-cd/helloworld:v0.2.0");
    await reject(d);
    const done = await final(d, "DEPLOYMENT_FAILURE");
    assert.equal(stage(done, "ROLLBACK")?.status, "STAGE_SUCCESS");
    assert.equal(await configMapExists("only-in-v2"), false, "deleted by the rollback");
    assert.equal(await image("canary-app"), "ghcr.io/pipe-cd/helloworld:v0.1.0");
    assert.equal(await deploymentExists("canary-app-canary"), false);
    assert.match(await stageLog(done, "ROLLBACK"), /Deleting 1 resources that only the failed/);
  });

  it("rollbackPrune: false leaves that resource in place and the rollback log names it", async () => {
    const d = await untilApproval(
      {
        ...app("v0.3.0", {
          stages: AFTER_PRIMARY,
          extra: configMap("kept-from-v3"),
          safety: "{ rollbackPrune: false }",
        }),
        "canary-app/only-in-v2.yaml": null,
      },
      "v0.3.0 adds a ConfigMap, no prune",
    );
    await reject(d);
    const done = await final(d, "DEPLOYMENT_FAILURE");
    assert.equal(stage(done, "ROLLBACK")?.status, "STAGE_SUCCESS");
    assert.equal(await configMapExists("kept-from-v3"), true, "left in place");
    assert.equal(await image("canary-app"), "ghcr.io/pipe-cd/helloworld:v0.1.0");
    assert.match(
      await stageLog(done, "ROLLBACK"),
      /Leaving 1 resources .* in place \(safety\.rollbackPrune is off\): v1:ConfigMap:default:kept-from-v3\n/,
    );
  });

  it("waitForReady and verifyTraffic off: a never-ready canary gets 10% (PipeCD's behaviour); cancel without rollback leaves it", async () => {
    const seed = [
      "name: K8S_CANARY_ROLLOUT\n        with: { replicas: 50% }",
      "name: K8S_TRAFFIC_ROUTING\n        with: { primary: 90, canary: 10 }",
      "name: WAIT_APPROVAL",
      "name: K8S_PRIMARY_ROLLOUT",
    ];
    const d = await untilApproval(
      {
        ...app("v0.4.0", {
          stages: seed,
          neverReady: true,
          safety: "{ waitForReady: false, verifyTraffic: false }",
        }),
        "canary-app/kept-from-v3.yaml": null,
      },
      "v0.4.0 never ready, checks off",
    );
    const canary = await apps().readNamespacedDeployment({
      name: "canary-app-canary",
      namespace: "default",
    });
    assert.ok(!canary.status?.availableReplicas, "the canary has no available pod");
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight]),
      [
        ["primary", 90],
        ["canary", 10],
      ],
    );
    assert.match(await stageLog(d, "K8S_CANARY_ROLLOUT"), /safety\.waitForReady is off/);
    assert.match(await stageLog(d, "K8S_TRAFFIC_ROUTING"), /safety\.verifyTraffic is off/);

    await s.admin.call("cancelDeployment", {
      params: { id: d.id ?? "" },
      body: { rollback: false },
    });
    const done = await final(d, "DEPLOYMENT_CANCELLED");
    assert.equal(stage(done, "ROLLBACK")?.status, "STAGE_NOT_STARTED_YET");
    assert.match(done.statusReason ?? "", /resources were left in place/);
    assert.equal(await deploymentExists("canary-app-canary"), true, "the canary is left");
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => r.weight),
      [90, 10],
      "the split is left",
    );
  });

  it("rollbackTimeout bounds the Rollback stage: rolling back to a never-ready commit fails at it", async () => {
    // A never-ready running commit, quick-synced without the readiness wait (PipeCD's behaviour).
    await s.repo.commit(
      app("v0.5.0", { neverReady: true, safety: "{ waitForReady: false }" }),
      "v0.5.0 never ready",
    );
    await s.waitDeployment(
      appId,
      (x) =>
        x.trigger?.commit?.message === "v0.5.0 never ready" && x.status === "DEPLOYMENT_SUCCESS",
      90_000,
      "v0.5.0 quick sync",
    );
    const d = await untilApproval(
      app("v0.6.0", {
        stages: ["name: K8S_PRIMARY_ROLLOUT", "name: WAIT_APPROVAL"],
        safety: "{ rollbackTimeout: 2s }",
      }),
      "v0.6.0",
    );
    const rejectedAt = Date.now();
    await reject(d);
    const done = await final(d, "DEPLOYMENT_FAILURE");
    const took = (Date.now() - rejectedAt) / 1000;
    assert.equal(stage(done, "ROLLBACK")?.status, "STAGE_FAILURE");
    assert.match(done.statusReason ?? "", /rollback failed: .*[Tt]imed out/);
    assert.ok(
      took < 30,
      `the rollback ended at its own 2 s deadline, not the 10 min rollout one (${took} s)`,
    );
  });
});

describe("safety switches in the piped config (spec.safety), overridden per app", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  const SEED = [
    "name: K8S_CANARY_ROLLOUT\n        with: { replicas: 50% }",
    "name: K8S_TRAFFIC_ROUTING\n        with: { primary: 90, canary: 10 }",
    "name: WAIT_APPROVAL",
    "name: K8S_PRIMARY_ROLLOUT",
  ];
  before(async () => {
    ({ s, kc, appId } = await startSeedStack(
      {
        readyDelayMs: 100,
        pipedSpec:
          "  safety: { waitForReady: false, verifyTraffic: false, keepDestinationFields: false }\n",
      },
      "v0.1.0",
    ));
  });
  after(async () => s?.close());

  it("the piped's switches apply to every app: PipeCD's behaviour, ports dropped in the split", async () => {
    await s.repo.commit(app("v0.2.0", { stages: SEED, neverReady: true }), "v0.2.0 piped-level");
    const d = await s.waitDeployment(
      appId,
      waitingForApproval("v0.2.0 piped-level"),
      90_000,
      "waiting for approval with a never-ready canary",
    );
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight, r.destination.port]),
      [
        ["primary", 90, undefined],
        ["canary", 10, undefined],
      ],
      "10% to the unready canary, destinations without their port (keepDestinationFields off)",
    );
    await s.admin.call("cancelDeployment", {
      params: { id: d.id ?? "" },
      body: { rollback: true },
    });
    await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_CANCELLED",
      90_000,
      "cancelled",
    );
  });

  it("an app's spec.safety overrides the piped's: the readiness wait is back for it", async () => {
    await s.repo.commit(
      app("v0.3.0", {
        stages: SEED,
        neverReady: true,
        safety: "{ waitForReady: true, rolloutTimeout: 3s }",
      }),
      "v0.3.0 app override",
    );
    const d = await s.waitDeployment(
      appId,
      (x) =>
        x.trigger?.commit?.message === "v0.3.0 app override" && x.status === "DEPLOYMENT_FAILURE",
      90_000,
      "failure at the canary rollout",
    );
    assert.equal(d.stages?.find((st) => st.name === "K8S_CANARY_ROLLOUT")?.status, "STAGE_FAILURE");
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight]),
      [["primary", 100]],
      "no traffic was ever sent to it",
    );
  });
});
