import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startStack, type Stack, type DeploymentJson } from "@pipecd-ts/testkit";

// Cancel (with and without rollback), skip, and deployment/stage timeouts, end to end over
// real processes.

const deployment = (image: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: api, labels: { app: api } }
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers: [{ name: api, image: "example/api:${image}" }]
`;

const config = (body: string): string => `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
${body}`;

const LONG_WAIT =
  "  pipeline:\n    stages:\n      - name: WAIT\n        with: { duration: 60s }\n      - name: WAIT\n        with: { duration: 1s }\n";

type D = DeploymentJson;

describe("piped: cancel, skip and timeouts", () => {
  let s: Stack;
  let appId = "";
  let n = 0;
  /** Commits a new image with `cfg` and waits until its first stage runs. */
  const deploy = async (cfg: string): Promise<D> => {
    const msg = `image v${++n}`;
    await s.repo.commit(
      { "api/app.pipecd.yaml": config(cfg), "api/deployment.yaml": deployment(`v${n}`) },
      msg,
    );
    return s.waitDeployment(
      appId,
      (x) => x.trigger?.commit?.message === msg && x.stages?.[0]?.status === "STAGE_RUNNING",
      60_000,
      `${msg} running`,
    );
  };
  const final = (id: string, status: string): Promise<D> =>
    s.waitDeployment(appId, (x) => x.id === id && x.status === status, 60_000, `${id} ${status}`);
  const rollback = (d: D) => d.stages?.find((x) => x.name === "ROLLBACK");

  before(async () => {
    s = await startStack();
    await s.startPiped();
    await s.repo.commit(
      { "api/app.pipecd.yaml": config(LONG_WAIT), "api/deployment.yaml": deployment("v0") },
      "first",
    );
    appId = await s.addApp("api", "api");
    await s.waitDeployment(
      appId,
      (x) => x.status === "DEPLOYMENT_SUCCESS",
      60_000,
      "first (quick sync) deployment",
    );
  });
  after(async () => s?.close());

  it("cancel with rollback: CANCELLED after running the Rollback stage", async () => {
    const d = await deploy(LONG_WAIT);
    await s.admin.call("cancelDeployment", {
      params: { id: d.id ?? "" },
      body: { rollback: true },
    });
    const done = await final(d.id ?? "", "DEPLOYMENT_CANCELLED");
    assert.equal(done.stages?.[0]?.status, "STAGE_CANCELLED");
    assert.equal(rollback(done)?.status, "STAGE_SUCCESS");
    assert.match(done.statusReason ?? "", /Cancelled by admin/);
  });

  it("cancel without rollback: CANCELLED and the Rollback stage never runs", async () => {
    const d = await deploy(LONG_WAIT);
    await s.admin.call("cancelDeployment", {
      params: { id: d.id ?? "" },
      body: { rollback: false },
    });
    const done = await final(d.id ?? "", "DEPLOYMENT_CANCELLED");
    assert.equal(rollback(done)?.status, "STAGE_NOT_STARTED_YET");
    assert.match(
      done.statusReason ?? "",
      /rollback skipped as requested: resources were left in place/,
    );
  });

  it("skip: the running stage is SKIPPED and the deployment goes on to SUCCESS", async () => {
    const d = await deploy(LONG_WAIT);
    await s.admin.call("skipStage", {
      params: { id: d.id ?? "", stageId: d.stages?.[0]?.id ?? "" },
    });
    const done = await final(d.id ?? "", "DEPLOYMENT_SUCCESS");
    assert.deepEqual(
      done.stages?.filter((x) => x.visible).map((x) => x.status),
      ["STAGE_SKIPPED", "STAGE_SUCCESS"],
    );
  });

  it("the deployment timeout fails the running stage and rolls back", async () => {
    const d = await deploy(`  timeout: 3s\n${LONG_WAIT}`);
    const done = await final(d.id ?? "", "DEPLOYMENT_FAILURE");
    assert.match(done.statusReason ?? "", /Timed out while executing stage/);
    assert.equal(rollback(done)?.status, "STAGE_SUCCESS");
  });

  it("a stage timeout fails that stage", async () => {
    const d = await deploy(
      "  pipeline:\n    stages:\n      - name: WAIT\n        timeout: 2s\n        with: { duration: 60s }\n",
    );
    const done = await final(d.id ?? "", "DEPLOYMENT_FAILURE");
    assert.equal(done.stages?.[0]?.status, "STAGE_FAILURE");
    assert.match(done.stages?.[0]?.statusReason ?? "", /Timed out/);
  });
});
