import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "@pipecd-ts/testkit";
import {
  AppError,
  DeadlineExceededError,
  FailedPreconditionError,
  UnavailableError,
} from "@pipecd-ts/runtime";
import { createKubeClient, type KubeClient } from "../src/index.js";
import { configMap, deployment, startFixture, timed, type Fixture } from "./fixture.js";

const cmRef = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  namespace: "default",
  name,
});

describe("KubeClient retries and deadlines (kube-sim faults)", () => {
  let f: Fixture;
  let kube: KubeClient;

  before(async () => {
    f = await startFixture();
    kube = f.client({ retry: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 400 } });
    // Warm the discovery cache so fault counts only see the calls under test.
    await kube.apply(configMap("warm"));
    await kube.apply(deployment("warm"));
  });
  after(async () => f?.close());

  /** Hits of the fault `id` so far (undefined once a counted fault is used up and removed). */
  const hits = (id: string): number | undefined =>
    f.sim.faults.list().find((x) => x.id === id)?.hits;

  it("apply survives two 503s on PATCH and succeeds on the third attempt", async () => {
    const fault = f.sim.faults.add({
      verb: "patch",
      resource: "deployments",
      status: 503,
      count: 2,
    });
    const counter = f.sim.faults.add({ verb: "patch", resource: "deployments", delayMs: 1 });
    try {
      const out = await kube.apply(deployment("flaky", { replicas: 1 }));
      assert.equal(out.metadata.name, "flaky");
      assert.equal(hits(fault), undefined, "both injected 503s were consumed");
      assert.equal(hits(counter), 1, "exactly one request after the two 503s");
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a persistent 500 fails with Unavailable after maxAttempts, within the backoff bound", async () => {
    const fault = f.sim.faults.add({ verb: "patch", resource: "deployments", status: 500 });
    try {
      const r = await timed(() => kube.apply(deployment("broken")));
      assert.ok(r.error instanceof UnavailableError, String(r.error));
      assert.match(
        (r.error as Error).message,
        /^apply Deployment default\/broken: kube-sim injected fault/,
      );
      assert.equal(hits(fault), 5);
      // Backoff with equal jitter: at most 50+100+200+400 ms of waiting, plus five fast requests.
      assert.ok(r.ms >= 375, `waited between attempts (${r.ms.toFixed(0)} ms)`);
      assert.ok(r.ms < 3_000, `bounded (${r.ms.toFixed(0)} ms)`);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a request slower than requestTimeoutMs fails with DeadlineExceeded and is not retried", async () => {
    const slow = f.client({ requestTimeoutMs: 300 });
    await slow.apply(configMap("slow")); // discovery cached before the fault
    const fault = f.sim.faults.add({
      verb: "get",
      resource: "configmaps",
      name: "slow",
      delayMs: 1_500,
    });
    try {
      const r = await timed(() => slow.get(cmRef("slow")));
      assert.ok(r.error instanceof DeadlineExceededError, String(r.error));
      assert.match(
        (r.error as Error).message,
        /get ConfigMap default\/slow did not finish within 300ms/,
      );
      assert.ok(r.ms >= 290 && r.ms < 1_500, `gave up at the deadline (${r.ms.toFixed(0)} ms)`);
      assert.equal(hits(fault), 1);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a 429 is retried after the server's Retry-After", async () => {
    const fault = f.sim.faults.add({
      verb: "get",
      resource: "configmaps",
      name: "warm",
      status: 429,
      count: 1,
    });
    try {
      const r = await timed(() => kube.get(cmRef("warm")));
      assert.equal(r.error, undefined);
      assert.equal(r.value?.metadata.name, "warm");
      assert.equal(hits(fault), undefined, "the 429 was served");
      // kube-sim sends Retry-After: 1; the first backoff alone would be at most 50 ms.
      assert.ok(r.ms >= 950, `honoured Retry-After (${r.ms.toFixed(0)} ms)`);
      assert.ok(r.ms < 3_000, `${r.ms.toFixed(0)} ms`);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a 429 that persists ends as RESOURCE_EXHAUSTED after maxAttempts", async () => {
    const client = f.client({ retry: { maxAttempts: 2, maxRetryAfterMs: 100 } });
    await client.get(cmRef("warm"));
    const fault = f.sim.faults.add({
      verb: "get",
      resource: "configmaps",
      name: "warm",
      status: 429,
    });
    try {
      const r = await timed(() => client.get(cmRef("warm")));
      assert.ok(
        r.error instanceof AppError && r.error.code === "RESOURCE_EXHAUSTED",
        String(r.error),
      );
      assert.equal(hits(fault), 2);
      assert.ok(r.ms < 900, `Retry-After capped by maxRetryAfterMs (${r.ms.toFixed(0)} ms)`);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("a plain 409 Conflict (stale write) is retried and the apply succeeds", async () => {
    const fault = f.sim.faults.add({
      verb: "patch",
      resource: "configmaps",
      status: 409,
      count: 1,
    });
    try {
      const out = await kube.apply(configMap("raced"));
      assert.equal(out.metadata.name, "raced");
      assert.equal(hits(fault), undefined);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("an SSA field-manager conflict is not retried", async () => {
    await f
      .client({ fieldManager: "kubectl-client-side-apply" })
      .apply(configMap("owned-elsewhere"));
    const counter = f.sim.faults.add({ verb: "patch", resource: "configmaps", delayMs: 1 });
    try {
      const cm = configMap("owned-elsewhere");
      cm.data = { k: "changed" };
      const r = await timed(() => kube.apply(cm, { force: false }));
      assert.ok(r.error instanceof FailedPreconditionError, String(r.error));
      assert.match((r.error as Error).message, /conflict with "kubectl-client-side-apply"/);
      assert.equal(hits(counter), 1);
    } finally {
      f.sim.faults.clear();
    }
  });

  it("an unreachable server is Unavailable after bounded attempts", async () => {
    const port = await freePort();
    const client = createKubeClient({
      kubeConfigPath: f.sim.kubeconfigPath,
      masterURL: `https://127.0.0.1:${port}`,
      retry: { maxAttempts: 3, initialDelayMs: 20 },
    });
    const r = await timed(() => client.get(cmRef("warm")));
    assert.ok(r.error instanceof UnavailableError, String(r.error));
    assert.match((r.error as Error).message, /ECONNREFUSED/);
    assert.ok(r.ms < 2_000, `${r.ms.toFixed(0)} ms`);
  });

  it("aborting the caller's signal rejects at once with its reason", async () => {
    f.sim.faults.add({ verb: "get", resource: "configmaps", name: "warm", delayMs: 1_500 });
    try {
      const ac = new AbortController();
      const reason = new Error("stage cancelled");
      const p = timed(() => kube.get(cmRef("warm"), { signal: ac.signal }));
      setTimeout(() => ac.abort(reason), 100);
      const r = await p;
      assert.equal(r.error, reason);
      assert.ok(r.ms < 1_000, `${r.ms.toFixed(0)} ms`);
    } finally {
      f.sim.faults.clear();
    }
  });
});
