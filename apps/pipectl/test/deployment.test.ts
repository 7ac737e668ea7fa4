import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, startStack, type DeploymentJson, type Stack } from "@pipecd-ts/testkit";
import { json, pipectl, start, type Run } from "./helpers.js";

// The deployment and stage commands of the real bin/pipectl against a real control plane, piped
// and kube-sim: approve/reject/skip the waiting stage, follow a deployment with `deployment
// wait` (SSE), cancel with and without rollback, logs, sync.

const manifest = (image: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, labels: { app: web } }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: "example/web:${image}" }]
`;

// The first deployment is a quick sync; every image bump after it runs this pipeline.
const APP_CONFIG = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  pipeline:
    stages:
      - name: WAIT_APPROVAL
      - name: K8S_PRIMARY_ROLLOUT
`;

type Stage = {
  id: string;
  name: string;
  status: string;
  visible: boolean;
  rollback: boolean;
  statusReason: string;
};
type Deployment = {
  id: string;
  applicationId: string;
  status: string;
  statusReason: string;
  stages: Stage[];
  trigger: { kind: string; commit: { message: string }; syncStrategy: string };
};

describe("pipectl deployment and stage commands", () => {
  let s: Stack;
  let env: Record<string, string>;
  let appId = "";
  let n = 0;

  const run = (args: string[]): Promise<Run> => pipectl(args, env);
  const getDeployment = async (id: string): Promise<Deployment> => {
    const r = await run(["deployment", "get", id, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    return json<{ deployment: Deployment }>(r).deployment;
  };
  /**
   * The deployment whose commit message is `msg`, once `pred` holds. Waited for over REST (woken
   * by the control plane's events), not by a pipectl process per poll: the commands under test
   * are run below; `-o json` is the REST JSON (docs/pipectl.md).
   */
  const deploymentOf = async (
    msg: string,
    pred: (d: Deployment) => boolean,
    what: string,
  ): Promise<Deployment> => {
    const asPipectlJson = (d: DeploymentJson): Deployment => d as unknown as Deployment;
    return asPipectlJson(
      await s.waitDeployment(
        appId,
        (d) => d.trigger?.commit?.message === msg && pred(asPipectlJson(d)),
        90_000,
        what,
      ),
    );
  };
  const approvalRunning = (d: Deployment): boolean =>
    d.stages.some((x) => x.name === "WAIT_APPROVAL" && x.status === "STAGE_RUNNING");
  /** Commits an image bump and returns its deployment once it waits for approval. */
  /** `deployment wait ID --status CANCELLED -o json` (must exit 0); the Rollback stage it shows. */
  const rollbackStageOnceCancelled = async (id: string) => {
    const done = await run([
      "deployment",
      "wait",
      id,
      "--status",
      "CANCELLED",
      "--timeout",
      "60s",
      "-o",
      "json",
    ]);
    assert.equal(done.code, 0, done.stderr);
    return json<{ deployment: Deployment }>(done).deployment.stages.find((x) => x.rollback);
  };
  const bumpAndWaitForApproval = async (): Promise<Deployment> => {
    const msg = `web v${++n}`;
    await s.repo.commit({ "web/deployment.yaml": manifest(`v${n}`) }, msg);
    return deploymentOf(msg, approvalRunning, `${msg} waiting for approval`);
  };

  before(async () => {
    // alice and bob are web users with keys of their own (an approval counts as the key's owner).
    s = await startStack({
      users: [
        { username: "alice", role: "admin" },
        { username: "bob", role: "admin" },
      ],
    });
    env = { PIPECD_ADDRESS: s.httpUrl, PIPECD_API_KEY: s.adminKey };
    await s.startPiped();
    await s.repo.commit(
      { "web/app.pipecd.yaml": APP_CONFIG, "web/deployment.yaml": manifest("v0") },
      "web v0",
    );
    const add = await run([
      "application",
      "add",
      "--name",
      "web",
      "--piped",
      s.pipedId,
      "--repo",
      "repo",
      "--path",
      "web",
      "-o",
      "json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    appId = json<{ id: string }>(add).id;
  });
  after(async () => s?.close());

  it("the first (quick sync) deployment: wait --status SUCCESS exits 0; list, get and logs show it", async () => {
    const first = await deploymentOf("web v0", () => true, "the first deployment");
    const w = await run([
      "deployment",
      "wait",
      first.id,
      "--status",
      "success",
      "--timeout",
      "90s",
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /Status:\s+DEPLOYMENT_SUCCESS/);
    assert.match(w.stderr, /\] deployment \S+: SUCCESS · stage 1\/1 K8S_SYNC \(success\)\n$/);

    const list = await run(["deployment", "list", "--app", appId, "--status", "SUCCESS"]);
    assert.match(list.stdout, /^ID\s+APPLICATION\s+STATUS\s+STAGE\s+STRATEGY\s+COMMIT\s+AGE\n/);
    assert.match(
      list.stdout,
      new RegExp(`${first.id}\\s+web\\s+SUCCESS\\s+K8S_SYNC\\s+QUICK_SYNC\\s+[0-9a-f]{7} web v0`),
    );

    const d = await getDeployment(first.id);
    assert.equal(d.status, "DEPLOYMENT_SUCCESS");
    assert.equal(d.applicationId, appId);
    assert.deepEqual(
      d.stages.filter((x) => x.visible).map((x) => [x.name, x.status]),
      [["K8S_SYNC", "STAGE_SUCCESS"]],
    );
    const table = await run(["deployment", "get", first.id]);
    assert.match(table.stdout, /Status:\s+DEPLOYMENT_SUCCESS/);
    assert.match(table.stdout, /\n\S+\s+K8S_SYNC\s+SUCCESS\s/);

    const logs = json<{
      deploymentId: string;
      stages: {
        id: string;
        name: string;
        status: string;
        retriedCount: number;
        completed: boolean;
        blocks: { log: string; severity: string }[];
      }[];
    }>(await run(["deployment", "logs", first.id, "-o", "json"]));
    assert.equal(logs.deploymentId, first.id);
    assert.deepEqual(
      logs.stages.map((x) => [x.name, x.status, x.completed]),
      [["K8S_SYNC", "STAGE_SUCCESS", true]],
    );
    assert.ok((logs.stages[0]?.blocks.length ?? 0) > 0, "the sync stage logged something");
    const text = await run(["deployment", "logs", first.id]);
    assert.match(text.stdout, /^== K8S_SYNC \(\S+\) SUCCESS\n\d\d:\d\d:\d\d (INFO|SUCCESS)/);
    assert.ok(text.stdout.includes(logs.stages[0]?.blocks[0]?.log ?? "?"));
  });

  it("approve without --stage: a running `deployment wait` shows the approval wait live, then exits 0", async () => {
    const d = await bumpAndWaitForApproval();
    const waiter = start(
      ["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "90s"],
      env,
    );
    await eventually(
      async () => /stage 1\/2 WAIT_APPROVAL \(waiting for approval\)/.test(waiter.stderr()),
      30_000,
      "wait to show the approval stage",
    );
    const approve = await run(["stage", "approve", "--deployment", d.id, "-o", "json"]);
    assert.equal(approve.code, 0, approve.stderr);
    const body = json<{
      commandId: string;
      deploymentId: string;
      stageId: string;
      stageName: string;
    }>(approve);
    assert.deepEqual(Object.keys(body).sort(), [
      "commandId",
      "deploymentId",
      "stageId",
      "stageName",
    ]);
    assert.equal(body.deploymentId, d.id);
    assert.equal(body.stageName, "WAIT_APPROVAL");
    assert.equal(body.stageId, d.stages.find((x) => x.name === "WAIT_APPROVAL")?.id);

    const w = await waiter.done;
    assert.equal(w.code, 0, w.stderr);
    const lines = w.stderr.trim().split("\n");
    assert.ok(
      lines.every((l) => /^\[\d+\.\d+s\] deployment \S+: /.test(l)),
      w.stderr,
    );
    assert.match(
      w.stderr,
      /stage 1\/2 WAIT_APPROVAL \(waiting for approval\)\n(.*\n)*.*SUCCESS · stage 2\/2 K8S_PRIMARY_ROLLOUT \(success\)\n$/,
    );
    assert.match(w.stdout, /^Status:\s+DEPLOYMENT_SUCCESS \(/m);
    assert.equal((await getDeployment(d.id)).status, "DEPLOYMENT_SUCCESS");

    const again = await run(["stage", "approve", "--deployment", d.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has no stage waiting for approval \(now: SUCCESS/);
  });

  it("reject --reason: `wait --status SUCCESS` exits 5 naming FAILURE; `wait --status FAILURE` exits 0", async () => {
    const d = await bumpAndWaitForApproval();
    const waiter = start(
      ["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "90s", "-o", "json"],
      env,
    );
    const reject = await run([
      "stage",
      "reject",
      "--deployment",
      d.id,
      "--reason",
      "error rate too high",
    ]);
    assert.equal(reject.code, 0, reject.stderr);
    assert.match(
      reject.stdout,
      new RegExp(`^Rejected stage WAIT_APPROVAL \\(\\S+\\) of deployment ${d.id}`),
    );
    const w = await waiter.done;
    assert.equal(w.code, 5, w.stderr);
    assert.match(
      w.stderr,
      new RegExp(`deployment ${d.id} ended DEPLOYMENT_FAILURE, not DEPLOYMENT_SUCCESS`),
    );
    const last = json<{ deployment: Deployment }>(w).deployment;
    assert.equal(last.status, "DEPLOYMENT_FAILURE");
    const commandId = /\(command (\S+)\)\.$/m.exec(reject.stdout)?.[1] ?? "";
    const cmd = await s.admin.call("getCommand", { params: { id: commandId } });
    assert.equal(cmd.command.rejectStage?.reason, "error rate too high");
    // The reason reaches the piped: the stage log says who rejected and why.
    const stageId = d.stages.find((x) => x.name === "WAIT_APPROVAL")?.id ?? "";
    const logs = await run(["deployment", "logs", d.id, "--stage", stageId]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^== WAIT_APPROVAL \(\S+\) FAILURE\n/);
    assert.match(logs.stdout, /ERROR +Rejected by admin: error rate too high\n/);
    const ok = await run(["deployment", "wait", d.id, "--status", "DEPLOYMENT_FAILURE"]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it("wait --timeout: exits 6 while the deployment still waits; cancel --no-rollback then ends it CANCELLED without rollback", async () => {
    const d = await bumpAndWaitForApproval();
    const t0 = Date.now();
    const w = await run(["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "2s"]);
    assert.equal(w.code, 6, w.stderr);
    assert.match(
      w.stderr,
      /timed out after 2\.0s waiting for deployment \S+ to reach DEPLOYMENT_SUCCESS \(now: RUNNING · stage 1\/2 WAIT_APPROVAL/,
    );
    assert.ok(Date.now() - t0 < 20_000, "gave up near the timeout");

    const c = await run(["deployment", "cancel", d.id, "--no-rollback", "-o", "json"]);
    assert.equal(c.code, 0, c.stderr);
    const body = json<{ commandId: string; deploymentId: string; rollback: boolean }>(c);
    assert.deepEqual(
      { ...body, commandId: "" },
      { commandId: "", deploymentId: d.id, rollback: false },
    );
    const cmd = await s.admin.call("getCommand", { params: { id: body.commandId } });
    assert.equal(cmd.command.cancelDeployment?.forceNoRollback, true);
    const rb = await rollbackStageOnceCancelled(d.id);
    assert.equal(rb?.status, "STAGE_NOT_STARTED_YET", "no rollback ran");
  });

  it("cancel (default) rolls back; cancelling a finished deployment is refused (exit 1)", async () => {
    const d = await bumpAndWaitForApproval();
    const c = await run(["deployment", "cancel", d.id]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /requested with rollback/);
    const rb = await rollbackStageOnceCancelled(d.id);
    assert.equal(rb?.status, "STAGE_SUCCESS", "the rollback ran");
    const again = await run(["deployment", "cancel", d.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is already DEPLOYMENT_CANCELLED \(FAILED_PRECONDITION, HTTP 412\)/);
  });

  it("skip without --stage skips the waiting stage and the deployment succeeds; --stage of an unknown stage is refused", async () => {
    const d = await bumpAndWaitForApproval();
    const bad = await run(["stage", "skip", "--deployment", d.id, "--stage", "no-such-stage"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has no stage no-such-stage \(stages: /);
    const sk = await run(["stage", "skip", "--deployment", d.id, "-o", "json"]);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(json<{ stageName: string }>(sk).stageName, "WAIT_APPROVAL");
    const w = await run([
      "deployment",
      "wait",
      d.id,
      "--status",
      "SUCCESS",
      "--timeout",
      "60s",
      "-o",
      "json",
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(
      json<{ deployment: Deployment }>(w)
        .deployment.stages.filter((x) => x.visible)
        .map((x) => x.status),
      ["STAGE_SKIPPED", "STAGE_SUCCESS"],
    );
  });

  it("wait follows a deployment across a control-plane restart; approve with --stage after it", async () => {
    const d = await bumpAndWaitForApproval();
    const waiter = start(
      ["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "120s"],
      env,
    );
    await eventually(async () => /WAIT_APPROVAL/.test(waiter.stderr()), 30_000, "wait to start");
    await s.restartControlPlane();
    const stageId = d.stages.find((x) => x.name === "WAIT_APPROVAL")?.id ?? "";
    // The piped reconnects on its own; approving needs only the REST API.
    const approve = await run(["stage", "approve", "--deployment", d.id, "--stage", stageId]);
    assert.equal(approve.code, 0, approve.stderr);
    const w = await waiter.done;
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /SUCCESS · stage 2\/2 K8S_PRIMARY_ROLLOUT \(success\)\n$/);
  });

  it("application sync --strategy quick-sync: a deployment triggered ON_COMMAND that succeeds", async () => {
    const sync = await run(["application", "sync", appId, "--strategy", "QUICK_SYNC"]);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /^Sync of application \S+ requested \(command \S+\)\.\n$/);
    const d = await s.waitDeployment(
      appId,
      (x) => x.trigger?.kind === "ON_COMMAND",
      60_000,
      "a deployment triggered by the sync command",
    );
    const top = json<{ deployments: Deployment[] }>(
      await run(["deployment", "list", "--app", appId, "--limit", "1", "-o", "json"]),
    ).deployments[0];
    assert.ok(top && top.id === d.id, "the newest deployment is the one the sync triggered");
    assert.equal(top.trigger.syncStrategy, "QUICK_SYNC");
    const w = await run(["deployment", "wait", top.id, "--status", "SUCCESS", "--timeout", "60s"]);
    assert.equal(w.code, 0, w.stderr);
  });

  it("approvers and quorum: a non-approver is refused (exit 4), a second vote of the same user too (exit 1), two approvers finish it", async () => {
    const keyOf = async (user: string): Promise<Record<string, string>> => {
      const res = await (
        await s.as(user)
      ).call("createAPIKey", { body: { name: `${user}-cli`, role: "editor" } });
      return { PIPECD_ADDRESS: s.httpUrl, PIPECD_API_KEY: res.key };
    };
    const [alice, bob] = [await keyOf("alice"), await keyOf("bob")];
    const gated = APP_CONFIG.replace(
      "      - name: WAIT_APPROVAL\n",
      "      - name: WAIT_APPROVAL\n        with: { approvers: [admin, alice], minApproverNum: 2 }\n",
    );
    const msg = `web v${++n} (two approvers)`;
    await s.repo.commit(
      { "web/app.pipecd.yaml": gated, "web/deployment.yaml": manifest(`v${n}`) },
      msg,
    );
    const d = await deploymentOf(msg, approvalRunning, "the gated deployment waiting");

    const byBob = await pipectl(["stage", "approve", "--deployment", d.id], bob);
    assert.equal(byBob.code, 4, byBob.stderr);
    assert.match(
      byBob.stderr,
      /user bob is not an approver of stage \S+ \(approvers: admin, alice\)/,
    );

    const first = await run(["stage", "approve", "--deployment", d.id]);
    assert.equal(first.code, 0, first.stderr);
    const twice = await run(["stage", "approve", "--deployment", d.id]);
    assert.equal(twice.code, 1, twice.stderr);
    assert.match(
      twice.stderr,
      /user admin has already approved stage \S+.*\(ALREADY_EXISTS, HTTP 409\)/,
    );
    assert.ok(approvalRunning(await getDeployment(d.id)), "one approval of two keeps it waiting");

    const second = await pipectl(["stage", "approve", "--deployment", d.id], alice);
    assert.equal(second.code, 0, second.stderr);
    const w = await run(["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "60s"]);
    assert.equal(w.code, 0, w.stderr);
    // back to the ungated pipeline for the tests after this one
    await s.repo.commit({ "web/app.pipecd.yaml": APP_CONFIG }, "ungate");
  });

  it("with the control plane down, stage approve and deployment wait exit 3", async () => {
    const d = await bumpAndWaitForApproval();
    await s.stopControlPlane();
    try {
      const [a, w] = await Promise.all([
        run(["stage", "approve", "--deployment", d.id]),
        run(["deployment", "wait", d.id, "--status", "SUCCESS", "--timeout", "30s"]),
      ]);
      for (const r of [a, w]) {
        assert.equal(r.code, 3, r.stderr);
        assert.match(
          r.stderr,
          /cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+: connection refused/,
        );
      }
    } finally {
      await s.startControlPlane();
    }
  });
});
