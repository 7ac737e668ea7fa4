import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import {
  RESOURCE_KEY_ANNOTATION,
  deploymentRolloutStatus,
  resourceKey,
  type KubeClient,
} from "../src/index.js";
import { deployment, startFixture, timed, type Fixture } from "./fixture.js";

const ref = (name: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  namespace: "default",
  name,
});

describe("KubeClient.waitForRollout against kube-sim's Deployment controller", () => {
  let f: Fixture;
  let kube: KubeClient;

  before(async () => {
    f = await startFixture();
    kube = f.client();
  });
  after(async () => f?.close());

  it("a normal Deployment rolls out, reported with kubectl's status lines", async () => {
    await kube.apply(deployment("web", { replicas: 3 }));
    const progress: string[] = [];
    const r = await timed(() =>
      kube.waitForRollout(ref("web"), { timeoutMs: 20_000, onProgress: (m) => progress.push(m) }),
    );
    assert.deepEqual(r.value, { done: true, message: 'deployment "web" successfully rolled out' });
    assert.equal(progress.at(-1), 'deployment "web" successfully rolled out');
    for (const m of progress.slice(0, -1))
      assert.match(
        m,
        /^(Waiting for deployment spec update to be observed\.\.\.|Waiting for deployment "web" rollout to finish: (\d+ out of \d+ new replicas have been updated|\d+ old replicas are pending termination|\d+ of \d+ updated replicas are available)\.\.\.)$/,
      );
    assert.equal(new Set(progress).size, progress.length, "each line reported once");
    // What the waiter saw as done is done by kubectl's rules on a fresh read too.
    const live = await kube.get(ref("web"));
    assert.ok(live);
    assert.equal(deploymentRolloutStatus(live).state, "done");
  });

  it("a template change is waited for until old replicas are gone", async () => {
    await kube.apply(deployment("upd", { replicas: 2 }));
    assert.equal((await kube.waitForRollout(ref("upd"), { timeoutMs: 20_000 })).done, true);
    await kube.apply(deployment("upd", { replicas: 2, image: "nginx:1.26" }));
    const progress: string[] = [];
    const r = await kube.waitForRollout(ref("upd"), {
      timeoutMs: 20_000,
      onProgress: (m) => progress.push(m),
    });
    assert.equal(r.done, true);
    assert.ok(progress.length >= 2, `saw the rollout progress: ${JSON.stringify(progress)}`);
    const live = await kube.get(ref("upd"));
    const status = live?.status as {
      replicas?: number;
      updatedReplicas?: number;
      availableReplicas?: number;
    };
    assert.equal(status.updatedReplicas, 2);
    assert.equal(status.replicas, 2);
    assert.equal(status.availableReplicas, 2);
  });

  it("a never-ready Deployment with progressDeadlineSeconds: 2 ends as ProgressDeadlineExceeded", async () => {
    await kube.apply(deployment("stuck", { neverReady: true, progressDeadlineSeconds: 2 }));
    const r = await timed(() => kube.waitForRollout(ref("stuck"), { timeoutMs: 30_000 }));
    assert.deepEqual(r.value, {
      done: false,
      reason: "ProgressDeadlineExceeded",
      message: 'deployment "stuck" exceeded its progress deadline',
    });
    assert.ok(r.ms >= 900 && r.ms < 15_000, `${r.ms.toFixed(0)} ms`);
  });

  it("a short timeoutMs ends as Timeout with the last status line", async () => {
    await kube.apply(deployment("slow", { neverReady: true }));
    const r = await timed(() => kube.waitForRollout(ref("slow"), { timeoutMs: 400 }));
    const v = r.value;
    assert.ok(v && !v.done && v.reason === "Timeout", JSON.stringify(v));
    assert.match(
      v.message,
      /^timed out after 400ms waiting for deployment "slow" rollout; last status: Waiting for deployment/,
    );
    assert.ok(r.ms >= 390 && r.ms < 2_000, `${r.ms.toFixed(0)} ms`);
  });

  it("a Deployment deleted during the wait ends as Deleted", async () => {
    const key = resourceKey(ref("gone"));
    await kube.apply(
      deployment("gone", { neverReady: true, annotations: { [RESOURCE_KEY_ANNOTATION]: key } }),
    );
    let deleting: Promise<unknown> | undefined;
    const r = await kube.waitForRollout(ref("gone"), {
      timeoutMs: 20_000,
      // Delete once the waiter has seen the Deployment (its first status line).
      onProgress: () => {
        deleting ??= kube.deleteOwned(ref("gone"), key);
      },
    });
    assert.equal(await deleting, "deleted");
    assert.deepEqual(r, {
      done: false,
      reason: "Deleted",
      message: 'deployment "gone" was deleted',
    });
  });

  it("a missing Deployment ends as Deleted (not found) at once", async () => {
    const r = await kube.waitForRollout(ref("never-created"), { timeoutMs: 5_000 });
    assert.deepEqual(r, {
      done: false,
      reason: "Deleted",
      message: 'deployment "never-created" not found',
    });
  });

  it("failing watches are retried (GET on every reconnect) and the outcome is still seen", async () => {
    await kube.apply(deployment("rewatch", { neverReady: true, progressDeadlineSeconds: 3 }));
    const fault = f.sim.faults.add({
      verb: "watch",
      resource: "deployments",
      status: 500,
      count: 3,
    });
    try {
      const r = await kube.waitForRollout(ref("rewatch"), { timeoutMs: 30_000 });
      assert.equal(r.done === false && r.reason, "ProgressDeadlineExceeded");
      assert.equal(
        f.sim.faults.list().find((x) => x.id === fault),
        undefined,
        "all three failing watches were attempted",
      );
    } finally {
      f.sim.faults.clear();
    }
  });

  it("waits on a watch, not by polling: one GET for a wait that sees no change", async () => {
    await kube.apply(deployment("idle", { neverReady: true }));
    const gets = f.sim.faults.add({
      verb: "get",
      resource: "deployments",
      name: "idle",
      delayMs: 1,
    });
    const watches = f.sim.faults.add({ verb: "watch", resource: "deployments", delayMs: 1 });
    try {
      const r = await kube.waitForRollout(ref("idle"), { timeoutMs: 1_500 });
      assert.equal(r.done === false && r.reason, "Timeout");
      const hits = (id: string) => f.sim.faults.list().find((x) => x.id === id)?.hits;
      assert.equal(hits(gets), 1);
      assert.equal(hits(watches), 1);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("aborting the signal rejects with its reason", async () => {
    await kube.apply(deployment("cancelled", { neverReady: true }));
    const ac = new AbortController();
    const reason = new Error("stage cancelled");
    const p = kube.waitForRollout(ref("cancelled"), {
      timeoutMs: 20_000,
      signal: ac.signal,
      onProgress: () => setImmediate(() => ac.abort(reason)),
    });
    await assert.rejects(p, (err) => err === reason);
  });

  it("only apps/v1 Deployments are accepted", async () => {
    await assert.rejects(
      kube.waitForRollout(
        { apiVersion: "apps/v1", kind: "StatefulSet", name: "x" },
        { timeoutMs: 1 },
      ),
      InvalidArgumentError,
    );
  });
});
