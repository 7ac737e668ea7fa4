import { after, before, describe, it } from "node:test";
import type * as k8s from "@kubernetes/client-node";
import { startPostgres, type PgCluster, type Stack } from "@pipecd-ts/testkit";
import { startSeedStack } from "./fixtures.js";
import { canaryApprovedWithPipectl } from "./system-steps.js";

// The whole system as deployed (bin/kube-sim, bin/pipecd-server, bin/piped, driven with
// bin/pipectl) with the control plane on PostgreSQL. The same on SQLite, with restarts, crashes,
// two clusters and cancel: system.test.ts.

describe("system on PostgreSQL: the seed canary approved with pipectl", () => {
  let pg: PgCluster;
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  before(async () => {
    pg = await startPostgres();
    ({ s, kc, appId } = await startSeedStack(
      { datastore: await pg.createDatabase(), readyDelayMs: 100 },
      "v0.1.0",
    ));
  });
  after(async () => {
    await s?.close();
    await pg?.stop();
  });

  it("canary → 90/10 → pipectl stage approve → DEPLOYMENT_SUCCESS", async () => {
    await canaryApprovedWithPipectl(s, kc, appId, "v0.2.0");
  });
});
