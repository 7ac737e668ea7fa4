import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { eventually, type Stack, type DeploymentJson } from "@pipecd-ts/testkit";
import { files, startSeedStack, vsRoutes, waitingForApproval } from "./fixtures.js";
import { canaryApprovedWithPipectl, ok, waitWithPipectl } from "./system-steps.js";

// The whole system as deployed — bin/kube-sim, bin/pipecd-server, bin/piped, driven with
// bin/pipectl — through approvals, control-plane restarts and crashes, two clusters, and cancel.
// On PostgreSQL: system-postgres.test.ts.

type D = DeploymentJson;
const stage = (d: D, name: string) => d.stages?.find((st) => st.name === name);

describe("system on SQLite: approvals, restarts, crashes, two clusters, cancel", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  /** API key files of the config users, created by each while signed in (personal keys). */
  const keyFile: Record<string, string> = {};
  const users = ["reviewer-a", "reviewer-b", "mallory"];

  before(async () => {
    ({ s, kc, appId } = await startSeedStack(
      { users: users.map((username) => ({ username, role: "editor" })), readyDelayMs: 100 },
      "v0.1.0",
    ));
    for (const u of users) {
      const { key } = await (
        await s.as(u)
      ).call("createAPIKey", { body: { name: `${u}-cli`, role: "editor" } });
      keyFile[u] = join(s.dir, `${u}.key`);
      await writeFile(keyFile[u], key, { mode: 0o600 });
    }
  });
  after(async () => s?.close());

  it("the seed canary on SQLite, approved with pipectl", async () => {
    await canaryApprovedWithPipectl(s, kc, appId, "v0.2.0");
  });

  it("minApproverNum 2 with pipectl: one approval keeps waiting, the same user twice is not counted, an outsider is refused, the second proceeds", async () => {
    const f = files("v0.3.0");
    f["canary-app/app.pipecd.yaml"] = (f["canary-app/app.pipecd.yaml"] ?? "").replace(
      "      - name: WAIT_APPROVAL\n",
      "      - name: WAIT_APPROVAL\n        with:\n          approvers: [reviewer-a, reviewer-b]\n          minApproverNum: 2\n",
    );
    await s.repo.commit(f, "v0.3.0 needs two");
    const d = await s.waitDeployment(
      appId,
      waitingForApproval("v0.3.0 needs two"),
      90_000,
      "v0.3.0",
    );
    const approve = (u: string) =>
      s.pipectl(["stage", "approve", "--deployment", d.id ?? ""], { apiKeyFile: keyFile[u] });

    const outsider = await approve("mallory");
    assert.equal(outsider.code, 4, "exit 4: refused (403)");
    assert.match(outsider.stderr, /approver/i, "the server's reason is printed");

    const first = await approve("reviewer-a");
    assert.equal(first.code, 0, first.stderr);
    await s.eventually(
      async () => {
        const cur = await s.admin.call("getDeployment", { params: { id: d.id ?? "" } });
        return stage(cur.deployment, "WAIT_APPROVAL")?.metadata?.ApprovedBy === "reviewer-a";
      },
      10_000,
      "the first approval to be recorded",
    );
    const again = await approve("reviewer-a");
    assert.equal(again.code, 1, "the same user twice is refused (409 ALREADY_EXISTS → exit 1)");
    const cur = (await s.admin.call("getDeployment", { params: { id: d.id ?? "" } })).deployment;
    assert.equal(stage(cur, "WAIT_APPROVAL")?.status, "STAGE_RUNNING", "still waiting for a 2nd");

    const second = await approve("reviewer-b");
    assert.equal(second.code, 0, second.stderr);
    await waitWithPipectl(s, d.id ?? "", "DEPLOYMENT_SUCCESS");
    const done = (await s.admin.call("getDeployment", { params: { id: d.id ?? "" } })).deployment;
    assert.equal(stage(done, "WAIT_APPROVAL")?.metadata?.ApprovedBy, "reviewer-a, reviewer-b");
  });

  it("the control plane stopped (SIGTERM) while waiting for approval: after restart the piped reconnects and the approval is delivered", async () => {
    await s.repo.commit(files("v0.4.0"), "bump to v0.4.0");
    const d = await s.waitDeployment(appId, waitingForApproval("bump to v0.4.0"), 90_000, "v0.4.0");
    await s.stopControlPlane();
    const down = await s.pipectl(["deployment", "get", d.id ?? ""]);
    assert.equal(down.code, 3, "server down → exit 3");
    assert.match(down.stderr, /cannot reach the control plane at http:\/\/127\.0\.0\.1/);
    await s.startControlPlane();
    await s.eventually(
      async () =>
        (await s.admin.call("listPipeds", {})).pipeds.some(
          (p) => p.id === s.pipedId && p.status === "ONLINE",
        ),
      30_000,
      "the piped to reconnect",
    );
    await ok(s, ["stage", "approve", "--deployment", d.id ?? ""]);
    await waitWithPipectl(s, d.id ?? "", "DEPLOYMENT_SUCCESS");
  });

  it("the control plane SIGKILLed mid-pipeline: the piped's queued reports and stage logs land after it is back, nothing lost or duplicated", async () => {
    const f = files("v0.5.0");
    f["canary-app/app.pipecd.yaml"] = (f["canary-app/app.pipecd.yaml"] ?? "").replace(
      / {2}pipeline:[\s\S]*? {2}trafficRouting:/,
      "  pipeline:\n    stages:\n      - name: WAIT\n        with: { duration: 2s }\n" +
        "      - name: K8S_PRIMARY_ROLLOUT\n      - name: WAIT\n        with: { duration: 1s }\n" +
        "  trafficRouting:",
    );
    await s.repo.commit(f, "v0.5.0 waits");
    const d = await s.waitDeployment(
      appId,
      (x) =>
        x.trigger?.commit?.message === "v0.5.0 waits" && x.stages?.[0]?.status === "STAGE_RUNNING",
      90_000,
      "v0.5.0 first WAIT",
    );
    const mark = s.piped?.output().length ?? 0;
    await s.controlPlane.kill();
    // The piped finishes the running WAIT while the control plane is gone and queues the report
    // (it does not start the next stage before the control plane has recorded this one).
    await eventually(
      async () => /report failed; retrying/.test(s.piped?.output().slice(mark) ?? ""),
      30_000,
      "the piped to queue a report while the control plane is down",
    );
    await s.startControlPlane();
    await waitWithPipectl(s, d.id ?? "", "DEPLOYMENT_SUCCESS");
    const done = (await s.admin.call("getDeployment", { params: { id: d.id ?? "" } })).deployment;
    const visible = done.stages?.filter((x) => x.visible) ?? [];
    assert.deepEqual(
      visible.map((x) => [x.name, x.status]),
      [
        ["WAIT", "STAGE_SUCCESS"],
        ["K8S_PRIMARY_ROLLOUT", "STAGE_SUCCESS"],
        ["WAIT", "STAGE_SUCCESS"],
      ],
    );
    for (const st of visible) {
      const logs = await s.admin.call("getStageLogs", {
        params: { id: d.id ?? "", stageId: st.id ?? "" },
      });
      assert.ok(logs.completed, `${st.id} logs completed`);
      // Indexes are ms × 1000 + a counter: increasing, and the counter without gaps (none lost,
      // none twice) while one deployment runs.
      const idx = logs.blocks.map((b) => BigInt(b.index ?? 0));
      const gaps = idx.filter(
        (v, i) => i > 0 && !(v > idx[i - 1]! && v % 1000n === ((idx[i - 1]! % 1000n) + 1n) % 1000n),
      );
      assert.deepEqual(gaps, [], `${st.id}: log blocks ${idx.join(", ")}`);
    }
    const wait1 = await s.admin.call("getStageLogs", {
      params: { id: d.id ?? "", stageId: visible[0]?.id ?? "" },
    });
    assert.equal(
      wait1.blocks.filter((b) => /Waited for 2s/.test(b.log ?? "")).length,
      1,
      "the first WAIT's last line arrived once",
    );
    const deployments = (await s.deployments(appId)).filter(
      (x) => x.trigger?.commit?.message === "v0.5.0 waits",
    );
    assert.equal(deployments.length, 1, "no duplicate deployment");
  });

  it("two pipeds on two kube-sim clusters, one control plane: each deploys only its own apps", async () => {
    const b = await s.addCluster("b");
    const kcB = new k8s.KubeConfig();
    kcB.loadFromFile(b.sim.kubeconfigPath);
    const simple = (name: string): Record<string, string> => ({
      [`${name}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: ${name}\n`,
      [`${name}/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec: { containers: [{ name: main, image: "example/${name}:1" }] }
`,
    });
    await s.repo.commit({ ...simple("only-a"), ...simple("only-b") }, "two apps");
    const appA = await s.addApp("only-a", "only-a");
    const appB = await s.addApp("only-b", "only-b", b.pipedId);
    for (const id of [appA, appB])
      await s.waitDeployment(id, (x) => x.status === "DEPLOYMENT_SUCCESS", 60_000, `${id} synced`);
    const names = async (c: k8s.KubeConfig) =>
      (
        await c.makeApiClient(k8s.AppsV1Api).listNamespacedDeployment({ namespace: "default" })
      ).items
        .map((x) => x.metadata?.name ?? "")
        .sort();
    assert.deepEqual(await names(kcB), ["only-b"], "cluster b has only piped b's app");
    const inA = await names(kc);
    assert.ok(inA.includes("only-a") && !inA.includes("only-b"), `cluster a: ${inA.join(", ")}`);
    const listed = JSON.parse(await ok(s, ["-o", "json", "application", "list"])) as {
      applications: { name: string; pipedId: string }[];
    };
    assert.equal(listed.applications.find((x) => x.name === "only-b")?.pipedId, b.pipedId);
  });

  it("pipectl deployment cancel during WAIT_APPROVAL rolls back; with --no-rollback it leaves everything in place", async () => {
    await s.repo.commit(files("v0.6.0"), "bump to v0.6.0");
    const d = await s.waitDeployment(appId, waitingForApproval("bump to v0.6.0"), 90_000, "v0.6.0");
    await ok(s, ["deployment", "cancel", d.id ?? ""]);
    await waitWithPipectl(s, d.id ?? "", "DEPLOYMENT_CANCELLED");
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const canaryExists = () =>
      apps.readNamespacedDeployment({ name: "canary-app-canary", namespace: "default" }).then(
        () => true,
        () => false,
      );
    assert.equal(await canaryExists(), false, "rolled back: canary deleted");
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight]),
      [["primary", 100]],
    );

    await s.repo.commit(files("v0.7.0"), "bump to v0.7.0");
    const e = await s.waitDeployment(appId, waitingForApproval("bump to v0.7.0"), 90_000, "v0.7.0");
    await ok(s, ["deployment", "cancel", e.id ?? "", "--no-rollback"]);
    const wait = await s.pipectl([
      "deployment",
      "wait",
      e.id ?? "",
      "--status",
      "DEPLOYMENT_SUCCESS",
      "--timeout",
      "90s",
    ]);
    assert.equal(wait.code, 5, "wait exits 5 on a different final status");
    const done = (await s.admin.call("getDeployment", { params: { id: e.id ?? "" } })).deployment;
    assert.equal(done.status, "DEPLOYMENT_CANCELLED");
    assert.match(done.statusReason ?? "", /resources were left in place/);
    assert.equal(await canaryExists(), true, "no rollback: the canary is left");
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => r.weight),
      [90, 10],
    );
  });
});
