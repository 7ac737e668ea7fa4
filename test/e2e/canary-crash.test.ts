import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Stack } from "@pipecd-ts/testkit";
import { STAGES, canaryRuns, type CanaryRuns } from "./canary-runs.js";
import { startSeedStack } from "./fixtures.js";

// The seed canary with the piped SIGKILLed during each stage: every run must reach the same end
// state as an uninterrupted one, with no duplicate deployment. (Kubernetes API faults:
// canary-faults.test.ts.)

/** Latency that keeps each (otherwise sub-second) stage RUNNING long enough to kill the piped in it. */
const SLOW: Record<number, Record<string, unknown>> = {
  1: { verb: "patch", resource: "virtualservices", delayMs: 1_500 },
  4: { verb: "patch", resource: "virtualservices", delayMs: 1_500 },
  5: { verb: "delete", resource: "deployments", delayMs: 1_500 },
};

describe("seed canary: the piped killed in each stage", () => {
  let s: Stack;
  let appId = "";
  let runs: CanaryRuns;

  before(async () => {
    let kc;
    ({ s, kc, appId } = await startSeedStack({ readyDelayMs: 100 }, "v1.0.0"));
    runs = canaryRuns(s, kc, appId);
  });
  after(async () => s?.close());

  for (const [index, name] of STAGES.entries()) {
    it(`SIGKILL of the piped during stage ${index} (${name}) then restart reaches the same end state`, async () => {
      if (SLOW[index]) await s.sim.addFault(SLOW[index]);
      try {
        const { d, image } = await runs.run(index, async () => {
          await s.piped?.kill();
          await s.startPiped();
        });
        assert.equal(d.status, "DEPLOYMENT_SUCCESS", d.statusReason);
        await runs.assertEndState(image);
        const same = (await s.deployments(appId)).filter(
          (x) => x.trigger?.commit?.message === `bump to ${image}`,
        );
        assert.equal(same.length, 1, "no duplicate deployment");
      } finally {
        await s.sim.clearFaults();
      }
    });
  }
});
