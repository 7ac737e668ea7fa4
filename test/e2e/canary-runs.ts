import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import type { DeploymentJson, Stack } from "@pipecd-ts/testkit";
import { files, vsRoutes } from "./fixtures.js";

// Image bumps of the seed canary run to completion, and the end state an uninterrupted run
// leaves: shared by the resilience suites (canary-crash, canary-faults).

/** The seed canary's stages, in order. */
export const STAGES = [
  "K8S_CANARY_ROLLOUT",
  "K8S_TRAFFIC_ROUTING",
  "WAIT_APPROVAL",
  "K8S_PRIMARY_ROLLOUT",
  "K8S_TRAFFIC_ROUTING",
  "K8S_CANARY_CLEAN",
];

/** Runs of image bumps on a seed stack (`startSeedStack`). */
export interface CanaryRuns {
  /** Asserts the end state of an uninterrupted run for `image`. */
  assertEndState(image: string): Promise<void>;
  /**
   * Runs one image bump to completion: approves whenever WAIT_APPROVAL waits, and calls
   * `atStage` once when stage `killAt` is RUNNING.
   */
  run(
    killAt?: number,
    atStage?: () => Promise<void>,
  ): Promise<{ d: DeploymentJson; image: string }>;
  /** The live Deployments of the app. */
  liveDeployments(): Promise<k8s.V1Deployment[]>;
}

/** Image bumps of the seed app `appId` on `s`, with images v1.1.0, v1.2.0, … */
export function canaryRuns(s: Stack, kc: k8s.KubeConfig, appId: string): CanaryRuns {
  let version = 1;
  const liveDeployments = async (): Promise<k8s.V1Deployment[]> =>
    (
      await kc
        .makeApiClient(k8s.AppsV1Api)
        .listNamespacedDeployment({ namespace: "default", labelSelector: "app=canary-app" })
    ).items;
  const approve = async (d: DeploymentJson): Promise<void> => {
    const st = d.stages?.find((x) => x.name === "WAIT_APPROVAL");
    await s.admin
      .call("approveStage", { params: { id: d.id ?? "", stageId: st?.id ?? "" } })
      .catch((err: { status?: number }) => {
        // 409: already approved before a restart (the vote is kept); 412: the stage already finished.
        if (err.status !== 409 && err.status !== 412) throw err;
      });
  };
  return {
    liveDeployments,
    async assertEndState(image) {
      assert.deepEqual(
        (await vsRoutes(kc)).map((r) => [
          r.destination.subset,
          r.weight,
          r.destination.port?.number,
        ]),
        [["primary", 100, 9085]],
      );
      const deps = await liveDeployments();
      assert.deepEqual(
        deps.map((d) => d.metadata?.name).sort(),
        ["canary-app"],
        "no orphaned canary Deployment",
      );
      assert.equal(
        deps[0]?.spec?.template.spec?.containers[0]?.image,
        `ghcr.io/pipe-cd/helloworld:${image}`,
      );
      assert.equal(deps[0]?.status?.availableReplicas, 2);
    },
    async run(killAt, atStage) {
      const image = `v1.${version++}.0`;
      const msg = `bump to ${image}`;
      await s.repo.commit(files(image), msg);
      let acted = killAt === undefined;
      const d = await s.eventually(
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
    },
  };
}
