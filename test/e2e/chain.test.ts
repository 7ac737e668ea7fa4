import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startStack, type DeploymentJson, type Stack } from "@pipecd-ts/testkit";

// Deployment chains (postSync.chain) end to end, over real processes. Given / when / then.

const app = (name: string, spec: string, failing = false) => ({
  [`${name}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: ${name}\n${spec}`,
  [`${name}/deployment.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  progressDeadlineSeconds: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata:
      labels: { app: ${name} }
      annotations: { kube-sim.pipecd.dev/never-ready: "${failing}" }
    spec:
      containers: [{ name: web, image: "example/${name}:${failing ? "broken" : "v1"}" }]
`,
});

interface ChainJson {
  status?: string;
  statusReason?: string;
  blocks?: { status?: string; nodes?: { applicationName?: string; deploymentId?: string }[] }[];
}

describe("deployment chains", () => {
  let s: Stack;
  let aId = "";
  let bId = "";
  const chainOf = async (d: DeploymentJson): Promise<ChainJson> =>
    (await s.admin.call("getDeploymentChain", { params: { id: d.deploymentChainId ?? "" } })).chain;
  const chainEnded = (d: DeploymentJson) =>
    s.eventually(
      async () => {
        const c = await chainOf(d);
        return c.status === "DEPLOYMENT_CHAIN_SUCCESS" || c.status === "DEPLOYMENT_CHAIN_FAILURE"
          ? c
          : undefined;
      },
      60_000,
      "the chain to end",
    );

  before(async () => {
    s = await startStack({ syncInterval: "1s", readyDelayMs: 0 });
    await s.startPiped();
    await s.repo.commit(
      {
        ...app("chain-b", "  trigger:\n    onChain: { disabled: false }\n"),
        ...app("chain-c", ""),
      },
      "the chained apps",
    );
    [bId] = await Promise.all([s.addApp("chain-b", "chain-b"), s.addApp("chain-c", "chain-c")]);
    await s.waitDeployment(bId, (d) => d.status === "DEPLOYMENT_SUCCESS", 30_000, "chain-b first");
  });
  after(async () => s?.close());

  it("a two-app chain deploys in order: chain-b's ON_CHAIN deployment starts after chain-a succeeded", async () => {
    await s.repo.commit(
      app("chain-a", "  postSync:\n    chain:\n      applications: [{ name: chain-b }]\n"),
      "chain-a",
    );
    aId = await s.addApp("chain-a", "chain-a");
    const a = await s.waitDeployment(aId, (d) => !!d.deploymentChainId, 30_000, "chain-a chained");
    const chain = await chainEnded(a);
    assert.equal(chain.status, "DEPLOYMENT_CHAIN_SUCCESS", chain.statusReason);
    assert.deepEqual(
      chain.blocks?.map((b) => [b.status, b.nodes?.map((n) => n.applicationName)]),
      [
        ["DEPLOYMENT_CHAIN_SUCCESS", ["chain-a"]],
        ["DEPLOYMENT_CHAIN_SUCCESS", ["chain-b"]],
      ],
    );
    const done = (await s.deployments(aId)).find((d) => d.id === a.id);
    const b = (await s.deployments(bId)).find((d) => d.trigger?.kind === "ON_CHAIN");
    assert.ok(b, "chain-b was deployed by the chain");
    assert.equal(b.deploymentChainId, a.deploymentChainId);
    assert.equal(b.deploymentChainBlockIndex, 1);
    assert.equal(chain.blocks?.[1]?.nodes?.[0]?.deploymentId, b.id);
    assert.ok(
      Date.parse(b.createdAt ?? "") >= Date.parse(done?.completedAt ?? ""),
      "chain-b started after chain-a completed",
    );
  });

  it("a failure in the first stops the chain with a reason: the next block never starts", async () => {
    const before = (await s.deployments(bId)).length;
    await s.repo.commit(
      app("chain-a", "  postSync:\n    chain:\n      applications: [{ name: chain-b }]\n", true),
      "chain-a broken",
    );
    const a = await s.waitDeployment(
      aId,
      (d) => d.trigger?.commit?.message === "chain-a broken" && !!d.deploymentChainId,
      30_000,
      "the broken chain-a",
    );
    const chain = await chainEnded(a);
    assert.equal(chain.status, "DEPLOYMENT_CHAIN_FAILURE");
    assert.match(chain.statusReason ?? "", /^chain-a \(block 0\) ended DEPLOYMENT_FAILURE/);
    assert.match(chain.statusReason ?? "", /the blocks after it were not started/);
    assert.equal(chain.blocks?.[1]?.status, "DEPLOYMENT_CHAIN_PENDING");
    assert.equal((await s.deployments(bId)).length, before, "chain-b was not deployed");
  });

  it("a chained app with trigger.onChain disabled ends the chain with that reason instead of stalling it", async () => {
    await s.repo.commit(
      app("chain-d", "  postSync:\n    chain:\n      applications: [{ name: chain-c }]\n"),
      "chain-d",
    );
    const dId = await s.addApp("chain-d", "chain-d");
    const d = await s.waitDeployment(dId, (x) => !!x.deploymentChainId, 30_000, "chain-d chained");
    const chain = await chainEnded(d);
    assert.equal(chain.status, "DEPLOYMENT_CHAIN_FAILURE");
    assert.match(
      chain.statusReason ?? "",
      /^chain-c \(block 1\) was not deployed: trigger\.onChain is disabled in chain-c's app config/,
    );
  });
});
