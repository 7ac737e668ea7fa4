import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import { eventually, startStack, type Stack, type DeploymentJson } from "@pipecd-ts/testkit";

// The piped end to end, over real processes: bin/kube-sim, bin/pipecd-server (SQLite),
// bin/piped, a bare Git repository. Given / when / then.

const manifests = (image: string, replicas = 2): Record<string, string> => ({
  "deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app: web }
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web, pipecd.dev/variant: primary }
  template:
    metadata:
      labels: { app: web, pipecd.dev/variant: primary }
    spec:
      containers:
        - name: helloworld
          image: ghcr.io/pipe-cd/helloworld:${image}
          ports: [{ containerPort: 9085 }]
`,
  "service.yaml": `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 9085, targetPort: 9085 }]
`,
  "destination-rule.yaml": `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web.default.svc.cluster.local
  subsets:
    - name: primary
      labels: { pipecd.dev/variant: primary }
    - name: canary
      labels: { pipecd.dev/variant: canary }
`,
  "virtual-service.yaml": `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web.example.com]
  http:
    - route:
        - destination: { host: web.default.svc.cluster.local, subset: primary }
          weight: 100
`,
});

const appConfig = (pipeline: string): string => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
${pipeline}`;

const withDir = (dir: string, files: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(files).map(([k, v]) => [`${dir}/${k}`, v]));

const APPROVAL_PIPELINE = `  pipeline:
    stages:
      - name: WAIT
        with: { duration: 2s }
      - name: WAIT_APPROVAL
        with:
          approvers: [reviewer-a, reviewer-b]
          minApproverNum: 2
`;

type D = DeploymentJson;
const stage = (d: D, name: string) => d.stages?.find((s) => s.name === name);
const httpStatus = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
};

describe("piped end to end", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  before(async () => {
    s = await startStack({
      users: [
        { username: "reviewer-a", role: "editor" },
        { username: "reviewer-b", role: "editor" },
        { username: "mallory", role: "editor" },
      ],
    });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    // The Istio CRDs, as a cluster would have them.
    const obj = k8s.KubernetesObjectApi.makeApiClient(kc);
    const { parseAllDocuments } = await import("yaml");
    const crds = parseAllDocuments(
      await readFile(new URL("../../deploy/examples/istio-crds.yaml", import.meta.url), "utf8"),
    );
    for (const doc of crds) {
      const o = doc.toJS() as k8s.KubernetesObject | null;
      if (o)
        await obj.patch(o, undefined, undefined, "test", true, k8s.PatchStrategy.ServerSideApply);
    }
    await s.startPiped();
  });
  after(async () => s?.close());

  let appId = "";

  it("first commit of an app → quick sync: objects applied with builtin annotations, rollout waited, SUCCESS", async () => {
    await s.repo.commit(
      {
        ...withDir("apps/web", manifests("v0.1.0")),
        "apps/web/app.pipecd.yaml": appConfig(APPROVAL_PIPELINE),
      },
      "add web",
    );
    appId = await s.addApp("web", "apps/web");
    const d = await s.waitDeployment(
      appId,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "first deployment to succeed",
    );
    assert.equal(d.trigger?.syncStrategy, "QUICK_SYNC");
    assert.match(d.summary ?? "", /first deployment/);
    assert.equal(stage(d, "K8S_SYNC")?.status, "STAGE_SUCCESS");
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ name: "web", namespace: "default" });
    const ann = dep.metadata?.annotations ?? {};
    assert.equal(ann["pipecd.dev/managed-by"], "piped");
    assert.equal(ann["pipecd.dev/application"], appId);
    assert.equal(ann["pipecd.dev/resource-key"], "apps/v1:Deployment:default:web");
    assert.equal(ann["pipecd.dev/variant"], "primary");
    assert.equal(ann["pipecd.dev/commit-hash"], d.trigger?.commit?.hash);
    assert.equal(
      dep.status?.availableReplicas,
      2,
      "the stage waited for the Deployment to be available",
    );
    const co = kc.makeApiClient(k8s.CustomObjectsApi);
    const vs = (await co.getNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1beta1",
      namespace: "default",
      plural: "virtualservices",
      name: "web",
    })) as { metadata: { annotations: Record<string, string> } };
    assert.equal(
      vs.metadata.annotations["pipecd.dev/resource-key"],
      "networking.istio.io/v1beta1:VirtualService:default:web",
    );
    const logs = await s.admin.call("getStageLogs", {
      params: { id: d.id ?? "", stageId: "K8sSync" },
    });
    const text = logs.blocks.map((b) => b.log).join("\n");
    assert.match(text, /Applied Deployment default\/web/);
    assert.match(text, /successfully rolled out/);
    // The application shows its config's pipeline, as Git has it.
    const shown = await s.eventually(async () => {
      const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
      return a.configStages?.length ? a.configStages : undefined;
    }, 10_000);
    assert.deepEqual(
      shown.map((x) => [x.id, x.name]),
      [
        ["stage-0", "WAIT"],
        ["stage-1", "WAIT_APPROVAL"],
      ],
    );
  });

  it("WAIT then WAIT_APPROVAL with two named approvers: refusals, one vote each, continues within 1 s of the 2nd approval", async () => {
    await s.repo.commit(withDir("apps/web", manifests("v0.2.0")), "bump image to v0.2.0");
    const d = await s.waitDeployment(
      appId,
      (x) => stage(x, "WAIT_APPROVAL")?.status === "STAGE_RUNNING",
      60_000,
      "approval stage running",
    );
    assert.equal(d.trigger?.syncStrategy, "PIPELINE");
    assert.match(d.summary ?? "", /updating image helloworld from v0\.1\.0 to v0\.2\.0/);
    const approvalId = stage(d, "WAIT_APPROVAL")?.id ?? "";
    const params = { params: { id: d.id ?? "", stageId: approvalId } };
    assert.equal(
      await httpStatus((await s.as("mallory")).call("approveStage", params)),
      403,
      "a non-listed user is refused",
    );
    const a = await s.as("reviewer-a");
    await a.call("approveStage", params);
    assert.equal(
      await httpStatus(a.call("approveStage", params)),
      409,
      "reviewer-a twice counts once",
    );
    // Still waiting for the second approver.
    await s.eventually(
      async () => {
        const cur = await s.admin.call("getDeployment", { params: { id: d.id ?? "" } });
        return stage(cur.deployment, "WAIT_APPROVAL")?.metadata?.ApprovedBy === "reviewer-a";
      },
      10_000,
      "the first approval to be recorded",
    );
    const b = await s.as("reviewer-b");
    const t0 = Date.now();
    await b.call("approveStage", params);
    const done = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && stage(x, "WAIT_APPROVAL")?.status === "STAGE_SUCCESS",
      10_000,
      "approval stage to succeed",
    );
    const took = Date.now() - t0;
    console.log(
      `# piped continued ${took} ms after the second approval (approve call → stage SUCCESS seen over REST)`,
    );
    assert.ok(
      took < 1_000,
      `the piped continued ${took} ms after the second approval (must be < 1 s)`,
    );
    assert.equal(stage(done, "WAIT_APPROVAL")?.metadata?.ApprovedBy, "reviewer-a, reviewer-b");
    await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_SUCCESS",
      30_000,
      "deployment success",
    );
  });

  it("a rejection fails the deployment", async () => {
    await s.repo.commit(withDir("apps/web", manifests("v0.3.0")), "bump image to v0.3.0");
    const d = await s.waitDeployment(
      appId,
      (x) =>
        stage(x, "WAIT_APPROVAL")?.status === "STAGE_RUNNING" &&
        x.trigger?.commit?.message === "bump image to v0.3.0",
      60_000,
      "approval stage running",
    );
    await (
      await s.as("reviewer-b")
    ).call("rejectStage", {
      params: { id: d.id ?? "", stageId: stage(d, "WAIT_APPROVAL")?.id ?? "" },
      body: { reason: "canary is slow" },
    });
    const failed = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_FAILURE",
      60_000,
      "deployment failure",
    );
    assert.equal(stage(failed, "WAIT_APPROVAL")?.status, "STAGE_FAILURE");
    // Auto-rollback restored the running version.
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ name: "web", namespace: "default" });
    assert.equal(
      dep.spec?.template.spec?.containers[0]?.image,
      "ghcr.io/pipe-cd/helloworld:v0.2.0",
    );
  });

  it("a SIGKILLed piped resumes: the WAIT does not start over and recorded approvals are kept", async () => {
    await s.repo.commit(withDir("apps/web", manifests("v0.4.0")), "bump image to v0.4.0");
    // The 2 s WAIT has recorded its start; the piped is killed 1.5 s into it.
    const d = await s.waitDeployment(
      appId,
      (x) =>
        Number(stage(x, "WAIT")?.metadata?.startTime) > 0 &&
        x.trigger?.commit?.message === "bump image to v0.4.0",
      60_000,
      "WAIT running",
    );
    const recorded = stage(d, "WAIT")?.metadata?.startTime ?? "";
    const startMs = Number(recorded) * 1000;
    await eventually(async () => Date.now() - startMs >= 1_500, 10_000, "1.5 s into the WAIT");
    await s.piped?.kill();
    await s.startPiped();
    const backAt = Date.now();
    const approving = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && stage(x, "WAIT_APPROVAL")?.status === "STAGE_RUNNING",
      60_000,
      "approval after restart",
    );
    // Resumed, not started over: the recorded start survived the restart, and the WAIT ended
    // 2 s after it (or as soon as the piped was back, if that was later). Started over, it would
    // have ended 2 s after the restart: at least 3.5 s after the recorded start, and 2 s after
    // the piped was back. The 1 s of slack is the restarted piped's relist.
    assert.equal(stage(approving, "WAIT")?.metadata?.startTime, recorded);
    const waitDone = Date.parse(stage(approving, "WAIT")?.completedAt ?? "");
    assert.ok(
      waitDone < Math.max(startMs + 2_000, backAt) + 1_000,
      `WAIT ended ${waitDone - startMs} ms after its recorded start, ${waitDone - backAt} ms after the piped was back`,
    );
    const params = {
      params: { id: d.id ?? "", stageId: stage(approving, "WAIT_APPROVAL")?.id ?? "" },
    };
    await (await s.as("reviewer-a")).call("approveStage", params);
    await s.eventually(
      async () =>
        stage(
          (await s.admin.call("getDeployment", { params: { id: d.id ?? "" } })).deployment,
          "WAIT_APPROVAL",
        )?.metadata?.ApprovedBy === "reviewer-a",
      10_000,
      "first approval recorded",
    );
    await s.piped?.kill();
    await s.startPiped();
    await (await s.as("reviewer-b")).call("approveStage", params);
    const done = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "deployment success after restarts",
    );
    assert.equal(
      stage(done, "WAIT_APPROVAL")?.metadata?.ApprovedBy,
      "reviewer-a, reviewer-b",
      "the approval made before the kill was kept",
    );
    // The last triggered commit came back from the control plane: no second deployment of it.
    const same = (await s.deployments(appId)).filter(
      (x) => x.trigger?.commit?.message === "bump image to v0.4.0",
    );
    assert.equal(same.length, 1, "restarts did not re-trigger the same commit");
  });

  it("the control plane down for 10 s during a deployment loses nothing and the deployment completes", async () => {
    await s.repo.commit(
      {
        "apps/web/app.pipecd.yaml": appConfig(
          "  pipeline:\n    stages:\n      - name: WAIT\n        with: { duration: 4s }\n      - name: WAIT\n        with: { duration: 1s }\n",
        ),
        ...withDir("apps/web", manifests("v0.5.0")),
      },
      "bump image to v0.5.0, waits only",
    );
    const d = await s.waitDeployment(
      appId,
      (x) =>
        x.trigger?.commit?.message === "bump image to v0.5.0, waits only" &&
        x.stages?.[0]?.status === "STAGE_RUNNING",
      60_000,
      "first WAIT running",
    );
    await s.restartControlPlane(10_000);
    const done = await s.waitDeployment(
      appId,
      (x) => x.id === d.id && x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "deployment success after the outage",
    );
    assert.deepEqual(
      done.stages?.filter((x) => x.visible).map((x) => x.status),
      ["STAGE_SUCCESS", "STAGE_SUCCESS"],
    );
    const logs = await s.admin.call("getStageLogs", {
      params: { id: d.id ?? "", stageId: done.stages?.[1]?.id ?? "" },
    });
    assert.ok(
      logs.blocks.some((b) => /Waited for 1s/.test(b.log ?? "")),
      "stage logs reported during the outage arrived",
    );
    assert.ok(logs.completed);
  });

  it("a broken app config shows INVALID_CONFIG naming the field, triggers nothing, and the running version stays", async () => {
    const before = (await s.deployments(appId)).length;
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const liveImage = (await apps.readNamespacedDeployment({ name: "web", namespace: "default" }))
      .spec?.template.spec?.containers[0]?.image;
    await s.repo.commit(
      {
        "apps/web/app.pipecd.yaml": appConfig(
          "  pipeline:\n    stages:\n      - name: WAIT\n        with: { duration: forever }\n",
        ),
        ...withDir("apps/web", manifests("v0.6.0")),
      },
      "broken config",
    );
    const app = await s.eventually(
      async () => {
        const a = (await s.admin.call("getApplication", { params: { id: appId } })).application;
        return a.syncState?.status === "INVALID_CONFIG" ? a : undefined;
      },
      30_000,
      "INVALID_CONFIG",
    );
    assert.match(app.syncState?.reason ?? "", /spec\.pipeline\.stages\[0\]\.with\.duration/);
    // A commit outside the app directory triggers nothing either.
    await s.repo.commit({ "docs/README.md": "unrelated\n" }, "docs only");
    await new Promise((r) => setTimeout(r, 3_000)); // several 1 s sync intervals: nothing may appear
    assert.equal((await s.deployments(appId)).length, before, "no deployment was created");
    const dep = await apps.readNamespacedDeployment({ name: "web", namespace: "default" });
    assert.equal(
      dep.spec?.template.spec?.containers[0]?.image,
      liveImage,
      "the running version is untouched",
    );
  });

  it("two commits pushed back to back give two deployments that run one after the other", async () => {
    await s.repo.commit(
      { "apps/web/app.pipecd.yaml": appConfig(""), ...withDir("apps/web", manifests("v0.7.0")) },
      "seven",
    );
    // The second commit lands while the first deployment exists (queued behind it).
    await s.waitDeployment(
      appId,
      (x) => x.trigger?.commit?.message === "seven",
      30_000,
      "first deployment triggered",
    );
    await s.repo.commit(withDir("apps/web", manifests("v0.8.0")), "eight");
    const d8 = await s.waitDeployment(
      appId,
      (x) => x.trigger?.commit?.message === "eight" && x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "second deployment success",
    );
    const d7 = (await s.deployments(appId)).find((x) => x.trigger?.commit?.message === "seven");
    assert.equal(d7?.status, "DEPLOYMENT_SUCCESS");
    const started8 = Number(d8.metadata?.["pipecd-ts.dev/started-at"]);
    assert.ok(
      started8 >= Date.parse(d7?.completedAt ?? ""),
      `the second started (${started8}) only after the first completed (${d7?.completedAt ?? ""})`,
    );
    const dep = await kc
      .makeApiClient(k8s.AppsV1Api)
      .readNamespacedDeployment({ name: "web", namespace: "default" });
    assert.equal(
      dep.spec?.template.spec?.containers[0]?.image,
      "ghcr.io/pipe-cd/helloworld:v0.8.0",
    );
  });
});
