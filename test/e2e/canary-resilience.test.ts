import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { eventually, type Stack, type DeploymentJson } from "@pipecd-ts/testkit";
import { files, startSeedStack, vsRoutes } from "./fixtures.js";

// The seed canary under failure: the piped SIGKILLed during each stage, and kube-sim faults on a
// share of all Kubernetes requests. Every run must reach the same end state as an
// uninterrupted one.

const STAGES = [
  "K8S_CANARY_ROLLOUT",
  "K8S_TRAFFIC_ROUTING",
  "WAIT_APPROVAL",
  "K8S_PRIMARY_ROLLOUT",
  "K8S_TRAFFIC_ROUTING",
  "K8S_CANARY_CLEAN",
];

/** Latency that keeps each (otherwise sub-second) stage RUNNING long enough to kill the piped in it. */
const SLOW: Record<number, Record<string, unknown>> = {
  1: { verb: "patch", resource: "virtualservices", delayMs: 1_500 },
  4: { verb: "patch", resource: "virtualservices", delayMs: 1_500 },
  5: { verb: "delete", resource: "deployments", delayMs: 1_500 },
};

describe("seed canary resilience", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  let version = 1;
  const apps = () => kc.makeApiClient(k8s.AppsV1Api);
  type D = DeploymentJson;

  /** The end state of an uninterrupted run for `image`. */
  const assertEndState = async (image: string): Promise<void> => {
    assert.deepEqual(
      (await vsRoutes(kc)).map((r) => [r.destination.subset, r.weight, r.destination.port?.number]),
      [["primary", 100, 9085]],
    );
    const deps = await apps().listNamespacedDeployment({
      namespace: "default",
      labelSelector: "app=canary-app",
    });
    assert.deepEqual(
      deps.items.map((d) => d.metadata?.name).sort(),
      ["canary-app"],
      "no orphaned canary Deployment",
    );
    assert.equal(
      deps.items[0]?.spec?.template.spec?.containers[0]?.image,
      `ghcr.io/pipe-cd/helloworld:${image}`,
    );
    assert.equal(deps.items[0]?.status?.availableReplicas, 2);
  };
  const approve = async (d: D): Promise<void> => {
    const st = d.stages?.find((x) => x.name === "WAIT_APPROVAL");
    await s.admin
      .call("approveStage", { params: { id: d.id ?? "", stageId: st?.id ?? "" } })
      .catch((err: { status?: number }) => {
        // 409: already approved before a restart (the vote is kept); 412: the stage already finished.
        if (err.status !== 409 && err.status !== 412) throw err;
      });
  };
  /**
   * Runs one image bump to completion: approves whenever WAIT_APPROVAL waits, and calls
   * `atStage` once when stage `killAt` is RUNNING.
   */
  const run = async (
    killAt?: number,
    atStage?: () => Promise<void>,
  ): Promise<{ d: D; image: string }> => {
    const image = `v1.${version++}.0`;
    const msg = `bump to ${image}`;
    await s.repo.commit(files(image), msg);
    let acted = killAt === undefined;
    const d = await eventually(
      async () => {
        const cur = (await s.deployments(appId)).find((x) => x.trigger?.commit?.message === msg);
        if (!cur) return undefined;
        if (
          cur.status === "DEPLOYMENT_SUCCESS" ||
          cur.status === "DEPLOYMENT_FAILURE" ||
          cur.status === "DEPLOYMENT_CANCELLED"
        )
          return cur;
        if (!acted && killAt !== undefined && cur.stages?.[killAt]?.status === "STAGE_RUNNING") {
          acted = true;
          await atStage?.();
          return undefined;
        }
        if (
          cur.stages?.find((st) => st.name === "WAIT_APPROVAL")?.status === "STAGE_RUNNING" &&
          (killAt !== 2 || acted)
        )
          await approve(cur);
        return undefined;
      },
      150_000,
      `${msg} completed`,
    );
    assert.ok(acted, `stage ${String(killAt)} was observed running`);
    return { d, image };
  };

  before(async () => {
    ({ s, kc, appId } = await startSeedStack({ readyDelayMs: 100 }, "v1.0.0"));
  });
  after(async () => s?.close());

  for (const [index, name] of STAGES.entries()) {
    it(`SIGKILL of the piped during stage ${index} (${name}) then restart reaches the same end state`, async () => {
      if (SLOW[index]) await s.sim.addFault(SLOW[index]);
      try {
        const { d, image } = await run(index, async () => {
          await s.piped?.kill();
          await s.startPiped();
        });
        assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
        await assertEndState(image);
        const same = (await s.deployments(appId)).filter(
          (x) => x.trigger?.commit?.message === `bump to ${image}`,
        );
        assert.equal(same.length, 1, "no duplicate deployment");
      } finally {
        await s.sim.clearFaults();
      }
    });
  }

  it("faults (409, 500, 503, latency) on ~10% of all Kubernetes requests: 20 runs in a row reach the same end state", async () => {
    for (const f of [{ status: 409 }, { status: 500 }, { status: 503 }, { delayMs: 300 }])
      await s.sim.addFault({ ...f, probability: 0.025 });
    let hits = 0;
    try {
      for (let i = 0; i < 20; i++) {
        const { d, image } = await run();
        assert.equal(d.status, "DEPLOYMENT_SUCCESS", `run ${i + 1}: ${d.statusReason ?? ""}`);
        hits += (await s.sim.listFaults()).reduce((n, f) => n + f.hits, 0);
        await s.sim.clearFaults(); // read the end state without faults, then put them back
        await assertEndState(image);
        for (const f of [{ status: 409 }, { status: 500 }, { status: 503 }, { delayMs: 300 }])
          await s.sim.addFault({ ...f, probability: 0.025 });
      }
      console.log(`# fault soak: 20 runs, ${hits} Kubernetes requests hit by an injected fault`);
      assert.ok(hits >= 20, `faults actually hit requests (${hits})`);
    } finally {
      await s.sim.clearFaults();
    }
  });

  it("a persistent 500 on the VirtualService fails the traffic stage with the API's message and rolls back", async () => {
    // Five attempts (the client's bound) all fail; the rollback afterwards can write again.
    await s.sim.addFault({
      verb: "patch",
      resource: "virtualservices",
      status: 500,
      count: 5,
      message: "etcdserver: request timed out",
    });
    try {
      const before =
        (await apps().readNamespacedDeployment({ name: "canary-app", namespace: "default" })).spec
          ?.template.spec?.containers[0]?.image ?? "";
      const { d } = await run();
      assert.equal(d.status, "DEPLOYMENT_FAILURE");
      const traffic = d.stages?.find((x) => x.name === "K8S_TRAFFIC_ROUTING");
      assert.equal(traffic?.status, "STAGE_FAILURE");
      const logs = await s.admin.call("getStageLogs", {
        params: { id: d.id ?? "", stageId: traffic?.id ?? "" },
      });
      assert.ok(
        logs.blocks.some((b) => /etcdserver: request timed out/.test(b.log ?? "")),
        "the API's message is in the stage log",
      );
      assert.equal(d.stages?.find((x) => x.name === "ROLLBACK")?.status, "STAGE_SUCCESS");
      await eventually(
        async () =>
          (
            await apps().listNamespacedDeployment({
              namespace: "default",
              labelSelector: "app=canary-app",
            })
          ).items.length === 1,
        10_000,
        "canary removed",
      );
      await assertEndState(before.split(":").pop() ?? "");
    } finally {
      await s.sim.clearFaults();
    }
  });
});
