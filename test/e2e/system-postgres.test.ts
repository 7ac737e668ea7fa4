import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import type * as k8s from "@kubernetes/client-node";
import { PipedService, createGrpcClient } from "@pipecd-ts/proto";
import { createRestClient, type RestClient } from "@pipecd-ts/rest-api";
import {
  SseReader,
  startPostgres,
  type PgCluster,
  type Stack,
  type StackProcess,
} from "@pipecd-ts/testkit";
import { files, startSeedStack, waitingForApproval } from "./fixtures.js";
import { canaryApprovedWithPipectl } from "./system-steps.js";

// The whole system as deployed (bin/kube-sim, bin/pipecd-server, bin/piped, driven with
// bin/pipectl) with the control plane on PostgreSQL, as two replicas: the piped is given both
// gRPC addresses (issue 17). The same on SQLite, with restarts, crashes, two clusters and cancel:
// system.test.ts.

/** One control-plane replica as the tests drive it. */
interface Replica {
  name: string;
  httpUrl: string;
  rest: RestClient;
  process(): StackProcess;
  start(): Promise<void>;
}

describe("system on PostgreSQL with two control-plane replicas", () => {
  let pg: PgCluster;
  let s: Stack;
  let kc: k8s.KubeConfig;
  let appId = "";
  let replicas: Replica[] = [];
  before(async () => {
    pg = await startPostgres();
    ({ s, kc, appId } = await startSeedStack(
      {
        datastore: await pg.createDatabase(),
        readyDelayMs: 100,
        replicas: 2,
        users: [{ username: "ada", role: "editor" }],
      },
      "v0.1.0",
    ));
    const b = s.replicas[0]!;
    replicas = [
      {
        name: "A",
        httpUrl: s.httpUrl,
        rest: s.admin,
        process: () => s.controlPlane,
        start: () => s.startControlPlane(),
      },
      {
        name: "B",
        httpUrl: b.httpUrl,
        rest: createRestClient({ baseUrl: b.httpUrl, apiKey: s.adminKey, timeoutMs: 10_000 }),
        process: () => b.process,
        start: () => b.start(),
      },
    ];
  });
  after(async () => {
    await s?.close();
    await pg?.stop();
  });

  /** Pipeds with a Watch stream open on `r` (its pipecd_connected_pipeds gauge). */
  const connectedOn = async (r: Replica): Promise<number> => {
    const res = await fetch(`${r.httpUrl}/metrics`, {
      headers: { authorization: `Bearer ${s.adminKey}` },
      signal: AbortSignal.timeout(5_000),
    });
    const m = /^pipecd_connected_pipeds (\d+)/m.exec(await res.text());
    return Number(m?.[1] ?? -1);
  };
  /** The replica the piped streams from, once exactly one has its stream. */
  const streamingReplica = async (): Promise<Replica> =>
    s.eventually(
      async () => {
        const counts = await Promise.all(replicas.map(connectedOn));
        return counts[0]! + counts[1]! === 1 ? replicas[counts[0] === 1 ? 0 : 1] : undefined;
      },
      20_000,
      "the piped streaming from one replica",
    );

  it("canary → 90/10 → pipectl stage approve → DEPLOYMENT_SUCCESS", async () => {
    await canaryApprovedWithPipectl(s, kc, appId, "v0.2.0");
  });

  it("the replica the piped streams from is SIGKILLed at WAIT_APPROVAL: the piped is on the other within 5 s, a UI's event stream resumes there without losing an event, and an approval sent to the survivor finishes the deployment", async (t) => {
    const msg = "bump to v0.3.0";
    await s.repo.commit(files("v0.3.0"), msg);
    const d = await s.waitDeployment(appId, waitingForApproval(msg), 90_000, `${msg} waiting`);
    const victim = await streamingReplica();
    const survivor = replicas.find((r) => r !== victim)!;
    // A UI signed in (cookie) on the victim, and a reference stream on the survivor.
    const login = await fetch(`${victim.httpUrl}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "ada", password: "ada-secret" }),
    });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const ui = await SseReader.open(victim.httpUrl, { cookie });
    const reference = await SseReader.open(survivor.httpUrl, { apiKey: s.adminKey });
    try {
      const uiReady = await ui.next((e) => e.event === "ready");
      await reference.next((e) => e.event === "ready");
      const killedAt = performance.now();
      await victim.process().kill();
      await s.eventually(
        async () => (await connectedOn(survivor)) === 1,
        5_000,
        "the piped's Watch stream on the surviving replica",
      );
      const failoverMs = performance.now() - killedAt;
      const uiLast = ui.events.at(-1)?.id || uiReady.id;
      const stage = d.stages?.find((st) => st.name === "WAIT_APPROVAL");
      await survivor.rest.call("approveStage", {
        params: { id: d.id ?? "", stageId: stage?.id ?? "" },
      });
      await s.eventually(
        async () =>
          (await survivor.rest.call("getDeployment", { params: { id: d.id ?? "" } })).deployment
            ?.status === "DEPLOYMENT_SUCCESS" || undefined,
        60_000,
        "the deployment to finish after the approval",
      );
      // The UI comes back on the survivor (what a load balancer does) after the last id it saw.
      const resumed = await SseReader.open(survivor.httpUrl, { cookie }, uiLast);
      try {
        const ready = await resumed.next((e) => e.event === "ready");
        assert.deepEqual(JSON.parse(ready.data), { resumed: true });
        const done = (e: { data: string }) =>
          e.data.includes(`"deploymentId":"${d.id ?? ""}"`) &&
          e.data.includes("DEPLOYMENT_SUCCESS");
        const last = await reference.next(done, 10_000);
        await resumed.next(done, 10_000);
        // Every event the reference stream saw after the UI's last id, and no other, in order.
        const ids = (r: SseReader) =>
          r.events
            .filter((e) => e.event !== "ready" && Number(e.id) > Number(uiLast))
            .map((e) => Number(e.id))
            .filter((id) => id <= Number(last.id));
        assert.ok(ids(reference).length > 0, "events happened while the UI was away");
        assert.deepEqual(ids(resumed), ids(reference));
      } finally {
        resumed.close();
      }
      assert.ok(failoverMs < 5_000, `failover took ${failoverMs.toFixed(0)} ms`);
      t.diagnostic(
        `replica ${victim.name} killed; the piped streamed from ${survivor.name} after ${failoverMs.toFixed(0)} ms`,
      );
    } finally {
      ui.close();
      reference.close();
    }
    await victim.start();
  });

  it("approvals through either replica; events of each on the other's stream", async () => {
    for (const [i, via] of replicas.entries()) {
      const other = replicas[1 - i]!;
      const msg = `bump to v0.4.${i}`;
      const sse = await SseReader.open(other.httpUrl, { apiKey: s.adminKey });
      try {
        await s.repo.commit(files(`v0.4.${i}`), msg);
        const d = await s.waitDeployment(appId, waitingForApproval(msg), 90_000, `${msg} waiting`);
        const stage = d.stages?.find((st) => st.name === "WAIT_APPROVAL");
        await via.rest.call("approveStage", {
          params: { id: d.id ?? "", stageId: stage?.id ?? "" },
        });
        await sse.next(
          (e) =>
            e.data.includes(`"deploymentId":"${d.id ?? ""}"`) &&
            e.data.includes("DEPLOYMENT_SUCCESS"),
          60_000,
        );
      } finally {
        sse.close();
      }
    }
  });

  it("a graceful stop (SIGTERM) of the replica the piped streams from moves the piped to the other within 3 s", async (t) => {
    const holder = await streamingReplica();
    const other = replicas.find((r) => r !== holder)!;
    const t0 = performance.now();
    await holder.process().stop();
    await s.eventually(
      async () => (await connectedOn(other)) === 1,
      3_000,
      "the piped's Watch stream on the other replica",
    );
    t.diagnostic(
      `replica ${holder.name} stopped; the piped streamed from ${other.name} after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await holder.start();
  });

  it("sign-in throttling holds across replicas", async () => {
    const attempt = (r: Replica, password: string) =>
      fetch(`${r.httpUrl}/api/v1/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "ada", password }),
      }).then((res) => res.status);
    // Five failures spread over both replicas (the fifth blocks the pair for 1 s)...
    for (let i = 0; i < 5; i++) assert.equal(await attempt(replicas[i % 2]!, "wrong"), 401);
    // ...block even the right password on either replica.
    assert.equal(await attempt(replicas[1]!, "ada-secret"), 429);
    assert.equal(await attempt(replicas[0]!, "ada-secret"), 429);
  });

  it("a piped disabled through one replica is refused within 1 s by the other, and its open stream there ends", async (t) => {
    const holder = await streamingReplica();
    const other = replicas.find((r) => r !== holder)!;
    const key = (await readFile(join(s.dir, "piped-key"), "utf8")).trim();
    const address = holder === replicas[0] ? s.grpcAddress : s.replicas[0]!.grpcAddress;
    const client = createGrpcClient(PipedService, address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set("authorization", `PIPED-TOKEN default,${s.pipedId},${key}`);
    try {
      const before = await client.listApplications(
        { limit: 10 },
        { metadata: md, timeoutMs: 5_000 },
      );
      assert.ok(before.applications.length > 0);
      const t0 = performance.now();
      await other.rest.call("disablePiped", { params: { id: s.pipedId } });
      const refusedIn = await s.eventually(
        async () => {
          try {
            await client.listApplications({ limit: 10 }, { metadata: md, timeoutMs: 5_000 });
            return undefined;
          } catch (err) {
            const code = (err as { code?: number }).code;
            return code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED
              ? performance.now() - t0
              : undefined;
          }
        },
        1_000,
        "the disabled piped's call to be refused by the other replica",
      );
      await s.eventually(
        async () => (await connectedOn(holder)) === 0,
        1_000,
        "the disabled piped's open stream to end",
      );
      assert.ok(refusedIn < 1_000, `refused after ${refusedIn.toFixed(0)} ms`);
      t.diagnostic(
        `disabled through ${other.name}; ${holder.name} refused the piped after ${refusedIn.toFixed(0)} ms`,
      );
    } finally {
      client.close();
    }
  });
});
