import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { kubectl, runCommand, startStack, type Stack } from "@pipecd-ts/testkit";

// Live state and drift detection end to end, over real processes: bin/kube-sim, bin/pipecd-server
// (SQLite), bin/piped, a bare Git repository, and the real kubectl changing the cluster behind
// the system's back. Given / when / then.

const deployment = (name: string, image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: { app: ${name} }
spec:
  replicas: 2
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: web
          image: ghcr.io/pipe-cd/helloworld:${image}
          ports: [{ containerPort: 9085 }]
`;

const service = (name: string) => `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 9085, targetPort: 9085 }]
`;

const secret = (name: string, password: string) => `apiVersion: v1
kind: Secret
metadata: { name: ${name}-secret }
type: Opaque
stringData:
  password: ${password}
`;

const appConfig = (name: string, extra: string) => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: ${name}
${extra}`;

const CANARY_PIPELINE = `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: { replicas: 50% }
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
`;

interface AppJson {
  healthStatus?: string;
  syncState?: { status?: string; shortReason?: string; reason?: string };
}

describe("drift detection and live state", () => {
  let s: Stack;
  let kubectlBin = "";
  let plainId = "";
  let syncedId = "";
  let canaryId = "";
  const kc = async (...args: string[]): Promise<string> => {
    const r = await runCommand(kubectlBin, ["--kubeconfig", s.sim.kubeconfigPath, ...args], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const app = async (id: string): Promise<AppJson> =>
    (await s.admin.call("getApplication", { params: { id } })).application;
  const waitSync = (id: string, status: string, timeoutMs: number, what: string) =>
    s.eventually(
      async () => {
        const a = await app(id);
        return a.syncState?.status === status ? a : undefined;
      },
      timeoutMs,
      what,
    );

  before(async () => {
    [s, kubectlBin] = await Promise.all([startStack({ syncInterval: "1s" }), kubectl()]);
    await s.startPiped();
    await s.repo.commit(
      {
        "apps/plain/deployment.yaml": deployment("plain", "v0.1.0"),
        "apps/plain/service.yaml": service("plain"),
        "apps/plain/secret.yaml": secret("plain", "s3cr3t-value"),
        "apps/plain/app.pipecd.yaml": appConfig(
          "plain",
          "  driftDetection:\n    ignoreFields:\n      - apps/v1:Deployment:default:plain#spec.template.spec.containers.0.ports\n" +
            '  trigger:\n    onCommit:\n      ignores: ["apps/plain/*.md"]\n',
        ),
        "apps/synced/deployment.yaml": deployment("synced", "v0.1.0"),
        "apps/synced/app.pipecd.yaml": appConfig(
          "synced",
          "  trigger:\n    onOutOfSync:\n      disabled: false\n      minWindow: 1s\n",
        ),
        "apps/canary/deployment.yaml": deployment("canary", "v0.1.0"),
        "apps/canary/app.pipecd.yaml": appConfig("canary", CANARY_PIPELINE),
        // Not registered: offered for adding, with its labels, or with the loader's message.
        "apps/new/deployment.yaml": deployment("new", "v0.1.0"),
        "apps/new/new.pipecd.yaml": appConfig(
          "new-app",
          "  labels: { team: payments }\n  description: a new one\n",
        ),
        "apps/broken/app.pipecd.yaml": appConfig(
          "broken",
          "  pipeline: { stages: [{ name: NOPE }] }\n",
        ),
      },
      "add three apps",
    );
    [plainId, syncedId, canaryId] = await Promise.all([
      s.addApp("plain", "apps/plain"),
      s.addApp("synced", "apps/synced"),
      s.addApp("canary", "apps/canary"),
    ]);
  });
  after(async () => s?.close());

  it("after a quick sync the app is SYNCED, and its live tree (Deployment → ReplicaSet → Pods, Service, Secret) is reported with health", async () => {
    await Promise.all(
      [plainId, syncedId].map((id) =>
        s.waitDeployment(id, (d) => d.status === "DEPLOYMENT_SUCCESS", 60_000, "quick sync"),
      ),
    );
    await waitSync(plainId, "SYNCED", 15_000, "plain SYNCED after its quick sync");
    await waitSync(syncedId, "SYNCED", 15_000, "synced SYNCED after its quick sync");
    const live = await s.eventually(
      async () => {
        const l = await s.admin
          .call("getApplicationLiveState", { params: { id: plainId } })
          .then((r) => r.liveState)
          .catch(() => undefined); // 404 until the piped has reported
        if (!l) return undefined;
        const pods = (l.kubernetesResources ?? []).filter(
          (r) => r.kind === "Pod" && r.healthStatus === "HEALTHY",
        );
        return pods.length === 2 ? l : undefined;
      },
      20_000,
      "two healthy pods in the live state",
    );
    const rs = live.kubernetesResources ?? [];
    const byKind = (k: string) => rs.filter((r) => r.kind === k);
    assert.equal(byKind("Deployment").length, 1);
    assert.equal(byKind("ReplicaSet").length, 1);
    assert.equal(byKind("Service").length, 1);
    assert.equal(byKind("Secret").length, 1);
    const dep = byKind("Deployment")[0]!;
    const replicaSet = byKind("ReplicaSet")[0]!;
    assert.deepEqual(replicaSet.ownerIds, [dep.id], "the ReplicaSet hangs off the Deployment");
    for (const p of byKind("Pod")) assert.deepEqual(p.ownerIds, [replicaSet.id]);
    assert.equal(dep.resourceKey, "apps/v1:Deployment:default:plain");
    assert.equal(live.healthStatus, "HEALTHY");
    await s.eventually(
      async () => (await app(plainId)).healthStatus === "HEALTHY",
      5_000,
      "the application to carry its health",
    );
    assert.doesNotMatch(
      JSON.stringify(live),
      /s3cr3t|czNjcjN0/,
      "no secret value leaves the piped",
    );
  });

  it("kubectl scale turns the app OUT_OF_SYNC within 5 s, naming spec.replicas; an ignored field does not", async () => {
    // The ignored field first: changing it alone leaves the app SYNCED.
    await kc(
      "patch",
      "deployment",
      "plain",
      "--type=json",
      '-p=[{"op":"replace","path":"/spec/template/spec/containers/0/ports/0/containerPort","value":9999}]',
    );
    const t0 = Date.now();
    await kc("scale", "deployment", "plain", "--replicas=3");
    const a = await waitSync(plainId, "OUT_OF_SYNC", 5_000, "OUT_OF_SYNC after kubectl scale");
    const ms = Date.now() - t0;
    console.log(`# drift shown ${ms} ms after kubectl scale`);
    assert.equal(
      a.syncState?.shortReason,
      "There are 1 manifests not synced (0 adds, 0 deletes, 1 changes)",
    );
    assert.match(
      a.syncState?.reason ?? "",
      /Diff between the defined state in Git at commit [0-9a-f]{7}/,
    );
    assert.match(a.syncState?.reason ?? "", /#spec\.replicas\n-\s+replicas: 3\n\+\s+replicas: 2/);
    assert.doesNotMatch(
      a.syncState?.reason ?? "",
      /containerPort|ports/,
      "the ignored field is not named",
    );
    // Without onOutOfSync nothing is deployed: the app stays OUT_OF_SYNC.
    assert.equal((await s.deployments(plainId)).length, 1);
  });

  it("kubectl set image names the container image in the diff; a Secret changed in the cluster shows masked", async () => {
    await kc("set", "image", "deployment/plain", "web=ghcr.io/pipe-cd/helloworld:v9.9.9");
    await kc(
      "patch",
      "secret",
      "plain-secret",
      "--type=merge",
      '-p={"stringData":{"password":"changed-by-hand"}}',
    );
    const a = await s.eventually(
      async () => {
        const x = await app(plainId);
        return /containers\.0\.image/.test(x.syncState?.reason ?? "") &&
          /Secret/.test(x.syncState?.reason ?? "")
          ? x
          : undefined;
      },
      5_000,
      "the image and the Secret in the diff",
    );
    const reason = a.syncState?.reason ?? "";
    assert.match(reason, /helloworld:v9\.9\.9/);
    assert.match(reason, /helloworld:v0\.1\.0/);
    assert.match(reason, /\*\*\*\*\*/, "the Secret's value is masked");
    assert.doesNotMatch(reason, /changed-by-hand|s3cr3t-value/);
    assert.match(a.syncState?.shortReason ?? "", /2 changes/);
  });

  it("with onOutOfSync enabled, kubectl set image is undone by an ON_OUT_OF_SYNC deployment, and the app is SYNCED again", async () => {
    await kc("set", "image", "deployment/synced", "web=ghcr.io/pipe-cd/helloworld:v6.6.6");
    const d = await s.waitDeployment(
      syncedId,
      (x) => x.trigger?.kind === "ON_OUT_OF_SYNC" && x.status === "DEPLOYMENT_SUCCESS",
      30_000,
      "an ON_OUT_OF_SYNC deployment to succeed",
    );
    assert.equal(d.trigger?.syncStrategy, "QUICK_SYNC");
    const image = await kc(
      "get",
      "deployment",
      "synced",
      "-o",
      "jsonpath={.spec.template.spec.containers[0].image}",
    );
    assert.equal(image, "ghcr.io/pipe-cd/helloworld:v0.1.0", "Git's image is back");
    await waitSync(syncedId, "SYNCED", 10_000, "SYNCED after the drift was undone");
    assert.equal(
      (await s.deployments(syncedId)).filter((x) => x.trigger?.kind === "ON_OUT_OF_SYNC").length,
      1,
      "one deployment undid it",
    );
  });

  it("plan preview: a branch that bumps one app's image and touches another app's ignored file names exactly the first app, with its pipeline and diff", async () => {
    await s.waitDeployment(
      canaryId,
      (d) => d.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "canary's first deployment",
    );
    const before = (await s.deployments(canaryId)).length;
    await s.repo.branch(
      "feature",
      {
        "apps/canary/deployment.yaml": deployment("canary", "v0.2.0"),
        "apps/plain/README.md": "# plain\nnothing to deploy\n",
      },
      "bump canary, document plain",
    );
    const t0 = Date.now();
    const r = await s.pipectl(["plan-preview", "--repo", "repo", "--head", "feature"], {
      timeoutMs: 60_000,
    });
    const ms = Date.now() - t0;
    console.log(`# plan preview answered in ${ms} ms`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^\nHere are plan-preview for 1 application:\n\n1\. app: canary, kind: KUBERNETES\n {2}sync strategy: PIPELINE\n {2}summary: 0 added manifests, 1 changed manifests, 0 deleted manifests\n {2}details:\n\n {2}---DETAILS_BEGIN---\n--- Last Deploy\n\+\+\+ Head Commit\n/,
    );
    assert.match(
      r.stdout,
      /-\s+image: ghcr\.io\/pipe-cd\/helloworld:v0\.1\.0\n\+\s+image: ghcr\.io\/pipe-cd\/helloworld:v0\.2\.0/,
    );
    assert.doesNotMatch(r.stdout, /app: plain|app: synced/);
    const json = await s.pipectl(
      ["plan-preview", "--repo", "repo", "--head", "feature", "-o", "json"],
      {
        timeoutMs: 60_000,
      },
    );
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout) as {
      Applications: {
        ApplicationName: string;
        SyncStrategy: string;
        StrategyReason: string;
        Stages: string[];
        NoChange: boolean;
      }[];
      FailureApplications: unknown[];
      FailurePipeds: unknown[];
    };
    assert.deepEqual(
      out.Applications.map((a) => a.ApplicationName),
      ["canary"],
    );
    const [app] = out.Applications;
    assert.equal(app?.SyncStrategy, "PIPELINE");
    assert.match(app?.StrategyReason ?? "", /updating image helloworld from v0\.1\.0 to v0\.2\.0/);
    assert.deepEqual(app?.Stages, [
      "K8S_CANARY_ROLLOUT",
      "K8S_PRIMARY_ROLLOUT",
      "K8S_CANARY_CLEAN",
    ]);
    assert.deepEqual([out.FailureApplications, out.FailurePipeds], [[], []]);
    // Nothing was deployed, and main did not move.
    assert.equal((await s.deployments(canaryId)).length, before);
    // An unknown head fails the piped's preview with the reason.
    const bad = await s.pipectl(["plan-preview", "--repo", "repo", "--head", "no-such-branch"], {
      timeoutMs: 60_000,
    });
    assert.equal(bad.code, 0, bad.stderr);
    assert.match(
      bad.stdout,
      /NOTE: An error occurred while building plan-preview for applications of the following Piped:\n\n1\. piped: .+\n {2}reason: "no-such-branch" is neither a branch nor a commit of repository repo\n/,
    );
  });

  it("app configs no application uses are offered for adding, validated: name, labels and description, or the loader's message", async () => {
    const found = await s.eventually(
      async () => {
        const p = (await s.admin.call("getPiped", { params: { id: s.pipedId } })).piped;
        const u = p.unregisteredApplications ?? [];
        return u.length >= 2 ? u : undefined;
      },
      10_000,
      "the unregistered app configs",
    );
    assert.deepEqual(
      found.map((u) => [
        u.path,
        u.configFilename,
        u.name ?? "",
        u.labels ?? {},
        u.description ?? "",
      ]),
      [
        ["apps/broken", "app.pipecd.yaml", "", {}, ""],
        ["apps/new", "new.pipecd.yaml", "new-app", { team: "payments" }, "a new one"],
      ],
      "the registered apps are not offered",
    );
    assert.match(found[0]?.error ?? "", /spec\.pipeline\.stages\[0\]\.name/);
    assert.equal(found[1]?.error ?? "", "");
    // Once added, it is no longer offered.
    await s.admin.call("addApplication", {
      body: {
        name: "new-app",
        pipedId: s.pipedId,
        gitPath: { repoId: "repo", path: "apps/new", configFilename: "new.pipecd.yaml" },
      },
    });
    await s.eventually(
      async () => {
        const p = (await s.admin.call("getPiped", { params: { id: s.pipedId } })).piped;
        return (p.unregisteredApplications ?? []).length === 1;
      },
      10_000,
      "the added app to leave the list",
    );
  });
});
