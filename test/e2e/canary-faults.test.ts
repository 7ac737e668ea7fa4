import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { eventually, type Stack } from "@pipecd-ts/testkit";
import { canaryRuns, type CanaryRuns } from "./canary-runs.js";
import { startSeedStack } from "./fixtures.js";

// The seed canary under Kubernetes API faults injected by kube-sim: a share of all requests
// failing or slow, and a persistent failure on one object. (The piped killed mid-stage:
// canary-crash.test.ts.)

const SOAK_FAULTS = [{ status: 409 }, { status: 500 }, { status: 503 }, { delayMs: 300 }];

describe("seed canary under Kubernetes API faults", () => {
  let s: Stack;
  let kc: k8s.KubeConfig;
  let runs: CanaryRuns;

  before(async () => {
    let appId;
    ({ s, kc, appId } = await startSeedStack({ readyDelayMs: 100 }, "v1.0.0"));
    runs = canaryRuns(s, kc, appId);
  });
  after(async () => s?.close());

  it("faults (409, 500, 503, latency) on ~10% of all Kubernetes requests: 20 runs in a row reach the same end state", async () => {
    const addFaults = async (): Promise<void> => {
      for (const f of SOAK_FAULTS) await s.sim.addFault({ ...f, probability: 0.025 });
    };
    await addFaults();
    let hits = 0;
    try {
      for (let i = 0; i < 20; i++) {
        const { d, image } = await runs.run();
        assert.equal(d.status, "DEPLOYMENT_SUCCESS", `run ${i + 1}: ${d.statusReason ?? ""}`);
        hits += (await s.sim.listFaults()).reduce((n, f) => n + f.hits, 0);
        await s.sim.clearFaults(); // read the end state without faults, then put them back
        await runs.assertEndState(image);
        await addFaults();
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
        (
          await kc
            .makeApiClient(k8s.AppsV1Api)
            .readNamespacedDeployment({ name: "canary-app", namespace: "default" })
        ).spec?.template.spec?.containers[0]?.image ?? "";
      const { d } = await runs.run();
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
        async () => (await runs.liveDeployments()).length === 1,
        10_000,
        "canary removed",
      );
      await runs.assertEndState(before.split(":").pop() ?? "");
    } finally {
      await s.sim.clearFaults();
    }
  });
});
