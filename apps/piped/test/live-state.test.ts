import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "@pipecd-ts/kube";
import { AppError, silentLogger, systemClock } from "@pipecd-ts/runtime";
import type { ApiClient } from "../src/apiclient/client.js";
import { LiveStateReporter } from "../src/livestate/reporter.js";
import { LiveStateStore } from "../src/livestate/store.js";

// The live-state store fed by scripted informers (the cluster's events), and the reporter
// against a recording control plane that refuses a stale delta as the real one does.

const APP = "app-1";

const deployment = (): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    namespace: "default",
    uid: "d1",
    generation: 1,
    annotations: {
      "pipecd.dev/application": APP,
      "pipecd.dev/piped": "piped-1",
      "pipecd.dev/original-api-version": "apps/v1",
    },
    managedFields: [{ manager: "piped" }],
  },
  spec: { replicas: 1 },
  status: {
    observedGeneration: 1,
    replicas: 1,
    updatedReplicas: 1,
    availableReplicas: 1,
    readyReplicas: 1,
  },
});
const replicaSet = (): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: {
    name: "web-1",
    namespace: "default",
    uid: "rs1",
    generation: 1,
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "d1" }],
  },
  spec: { replicas: 1 },
  status: {
    observedGeneration: 1,
    replicas: 1,
    fullyLabeledReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
  },
});
const pod = (ready: boolean): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: "web-1-a",
    namespace: "default",
    uid: "p1",
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "rs1" }],
  },
  spec: { containers: [{ name: "web", image: "x" }] },
  status: ready
    ? {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [{ name: "web", ready: true, restartCount: 0, state: { running: {} } }],
      }
    : {
        phase: "Running",
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [
          {
            name: "web",
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: "CrashLoopBackOff", message: "back-off" } },
          },
        ],
      },
});
const secret = (): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: "creds",
    namespace: "default",
    uid: "s1",
    annotations: { "pipecd.dev/application": APP },
  },
  data: { password: Buffer.from("hunter2").toString("base64") },
});
const foreign = (): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: "theirs",
    namespace: "default",
    uid: "s2",
    annotations: { "pipecd.dev/application": APP, "pipecd.dev/piped": "another-piped" },
  },
});

/** A store whose informers are the test's: `feed[kind]` gets each kind's handler. */
function scriptedStore() {
  const informers = new Map<
    string,
    { replace(o: KubeObject[]): void; upsert(o: KubeObject): void; remove(o: KubeObject): void }
  >();
  const store = new LiveStateStore({
    kube: {
      inform: (apiVersion, kind, _ns, handler, signal) => {
        informers.set(`${apiVersion}:${kind}`, handler);
        return new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
      },
    },
    pipedId: "piped-1",
    namespace: "",
    include: [],
    exclude: [{ apiVersion: "batch/v1", kind: "" }],
    logger: silentLogger(),
  });
  return { store, informers };
}

describe("live-state store", () => {
  it("watches a kind with what its workloads create, groups by owner, keeps Secrets hashed, ignores another piped's objects", async () => {
    const { store, informers } = scriptedStore();
    const stop = new AbortController();
    const running = store.run(stop.signal);
    const watched = store.watch([
      { apiVersion: "apps/v1", kind: "Deployment" },
      { apiVersion: "v1", kind: "Secret" },
      { apiVersion: "batch/v1", kind: "CronJob" }, // excluded
    ]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([...informers.keys()].sort(), [
      "apps/v1:Deployment",
      "apps/v1:ReplicaSet",
      "v1:Pod",
      "v1:Secret",
    ]);
    const changes: [string[], boolean][] = [];
    store.onChange((apps, managing) => changes.push([[...apps], managing]));
    // The pod arrives before its ReplicaSet: it joins the tree once the owner is known.
    informers.get("v1:Pod")!.replace([pod(true)]);
    informers.get("apps/v1:ReplicaSet")!.replace([replicaSet()]);
    informers.get("apps/v1:Deployment")!.replace([deployment()]);
    informers.get("v1:Secret")!.replace([secret(), foreign()]);
    await watched; // every kind listed
    assert.deepEqual(
      store.tree(APP).map((n) => `${n.kind}/${n.name} ${n.health.status}`),
      [
        "Deployment/web HEALTHY",
        "ReplicaSet/web-1 HEALTHY",
        "Pod/web-1-a HEALTHY",
        "Secret/creds HEALTHY",
      ],
    );
    const managing = store.managing(APP);
    assert.deepEqual(managing.map((n) => n.name).sort(), ["creds", "web"]);
    const s = managing.find((n) => n.kind === "Secret")!.object!;
    assert.match(JSON.stringify(s), /sha256:/);
    assert.doesNotMatch(JSON.stringify(s), /hunter2|aHVudGVyMg/);
    assert.equal(
      managing.find((n) => n.kind === "Deployment")!.object!.metadata.managedFields,
      undefined,
    );
    // A pod going bad touches the app, but not its own objects (no drift check needed).
    changes.length = 0;
    informers.get("v1:Pod")!.upsert(pod(false));
    assert.deepEqual(changes, [[[APP], false]]);
    assert.equal(store.tree(APP).find((n) => n.kind === "Pod")?.health.status, "UNHEALTHY");
    informers.get("apps/v1:Deployment")!.upsert({ ...deployment(), spec: { replicas: 3 } });
    assert.deepEqual(changes.at(-1), [[APP], true]);
    stop.abort();
    await running;
  });
});

describe("live-state reporter", () => {
  it("sends a snapshot first, then only what changed; a refused delta is followed by a snapshot", async () => {
    const { store, informers } = scriptedStore();
    const calls: {
      snapshot?: { kubernetesResources: { id: string }[] };
      delta?: {
        baseVersion: bigint;
        upserted: { id: string; healthStatus: number }[];
        removedIds: string[];
      };
    }[] = [];
    let version = 0n;
    let refuseNext = false;
    const api = {
      call: (method: string, req: (typeof calls)[number]) => {
        assert.equal(method, "reportApplicationLiveState");
        calls.push(structuredClone(req));
        if (req.delta && (refuseNext || req.delta.baseVersion !== version)) {
          refuseNext = false;
          return Promise.reject(new AppError("FAILED_PRECONDITION", "stale base"));
        }
        version++;
        return Promise.resolve({ version });
      },
    } as unknown as Pick<ApiClient, "call">;
    const reporter = new LiveStateReporter({
      store,
      api,
      isOwnApp: (id) => id === APP,
      clock: systemClock,
      logger: silentLogger(),
      coalesceMs: 1,
    });
    const stop = new AbortController();
    const runs = [store.run(stop.signal), reporter.run(stop.signal)];
    const sent = async (n: number) => {
      for (const deadline = Date.now() + 5_000; calls.length < n;) {
        if (Date.now() > deadline) throw new Error(`only ${calls.length} reports, wanted ${n}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    void store.watch([{ apiVersion: "apps/v1", kind: "Deployment" }]);
    await new Promise((r) => setImmediate(r));
    informers.get("apps/v1:Deployment")!.replace([deployment()]);
    informers.get("apps/v1:ReplicaSet")!.replace([replicaSet()]);
    informers.get("v1:Pod")!.replace([pod(true)]);
    await sent(1);
    assert.ok(calls[0]?.snapshot, "the first report is a snapshot");
    // The three lists of one turn went out together, as that one snapshot.
    assert.equal(calls.length, 1);
    const base = 1;
    informers.get("v1:Pod")!.upsert(pod(false));
    await sent(base + 1);
    const d = calls[base]?.delta;
    assert.deepEqual(
      d?.upserted.map((r) => r.id),
      ["p1"],
      "only the pod that changed",
    );
    assert.deepEqual(d?.removedIds, []);
    // The control plane lost track (another replica, a restart): a snapshot follows.
    refuseNext = true;
    informers.get("v1:Pod")!.remove(pod(false));
    await sent(base + 3);
    assert.deepEqual(calls[base + 1]?.delta?.removedIds, ["p1"]);
    assert.deepEqual(calls[base + 2]?.snapshot?.kubernetesResources.map((r) => r.id).sort(), [
      "d1",
      "rs1",
    ]);
    stop.abort();
    await Promise.all(runs);
  });
});
