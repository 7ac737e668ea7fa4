// Live state and drift at scale (issue 19): N applications of 5 resources each (Deployment,
// Service, ConfigMap, Secret, ServiceAccount; with each Deployment's ReplicaSet and Pod, 7
// objects per app under watch) on one piped. Prints
//   - the time until every app's first deployment succeeded and every app is SYNCED;
//   - the piped's RSS (now and peak) and its CPU while idle for 15 s;
//   - how long a drift made behind the system's back (a Deployment scaled through the API) takes
//     to show as OUT_OF_SYNC on the control plane, p50/p99 over 20 drifts, and the piped's CPU
//     meanwhile.
// Usage: node --import tsx test/bench/livestate.bench.ts [N ...]   (default: 200)
// Real processes: control plane (SQLite), kube-sim, piped (syncInterval 1m: drift is evented).
import * as k8s from "@kubernetes/client-node";
import { startStack, type Stack } from "@pipecd-ts/testkit";
import { addApps, cpuOver, cpuSeconds, pct, rssMiB, waitForSuccesses, forSizes } from "./common.js";

const DRIFTS = 20;

const app = (i: number): Record<string, string> => {
  const n = `a${i}`;
  return {
    [`apps/${n}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: ${n}\n`,
    [`apps/${n}/resources.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${n} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${n} } }
  template:
    metadata: { labels: { app: ${n} } }
    spec:
      serviceAccountName: ${n}
      containers: [{ name: web, image: "example/web:v1", ports: [{ containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: ${n} }
spec:
  selector: { app: ${n} }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ${n} }
data: { v: "1" }
---
apiVersion: v1
kind: Secret
metadata: { name: ${n} }
stringData: { token: "t-${i}" }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: ${n} }
`,
  };
};

interface AppSync {
  id: string;
  syncState?: { status?: string };
}

/** Every application of the stack (one listing per page). */
async function listApps(s: Stack): Promise<AppSync[]> {
  const out: AppSync[] = [];
  let cursor = "";
  do {
    const page = await s.admin.call("listApplications", {
      query: { limit: 500, ...(cursor ? { cursor } : {}) },
    });
    out.push(...(page.applications as AppSync[]));
    cursor = page.cursor;
  } while (cursor);
  return out;
}

async function run(n: number): Promise<void> {
  const s: Stack = await startStack({ readyDelayMs: 0, syncInterval: "1m" });
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) Object.assign(files, app(i));
    await s.repo.commit(files, `${n} apps`);
    await s.startPiped();
    const pid = s.piped?.proc.pid ?? 0;
    const started = Date.now();
    const ids = await addApps(s, n);
    await waitForSuccesses(s, n);
    const deployed = (Date.now() - started) / 1000;
    for (const deadline = Date.now() + 10 * 60_000; ;) {
      const synced = (await listApps(s)).filter((a) => a.syncState?.status === "SYNCED").length;
      if (synced === n) break;
      if (Date.now() > deadline) throw new Error(`only ${synced} of ${n} apps SYNCED in 10 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const allSynced = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 3_000)); // let the last reports go out
    const idleCpu = await cpuOver(pid, 15_000);
    const idleRss = await rssMiB(pid);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.sim.kubeconfigPath);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const latencies: number[] = [];
    const c0 = await cpuSeconds(pid);
    const w0 = Date.now();
    for (let k = 0; k < DRIFTS; k++) {
      const i = (k * 37) % n;
      const t0 = performance.now();
      await apps.patchNamespacedDeploymentScale({
        name: `a${i}`,
        namespace: "default",
        // client-node sends a JSON patch.
        body: [{ op: "replace", path: "/spec/replicas", value: 2 }],
      });
      await s.eventually(
        async () => {
          const a = (await s.admin.call("getApplication", { params: { id: ids[i] ?? "" } }))
            .application as AppSync;
          return a.syncState?.status === "OUT_OF_SYNC";
        },
        60_000,
        `a${i} OUT_OF_SYNC`,
      );
      latencies.push(performance.now() - t0);
    }
    const driftCpu = ((await cpuSeconds(pid)) - c0) / ((Date.now() - w0) / 1000);
    const rss = await rssMiB(pid);
    console.log(
      `${String(n).padStart(4)} apps (${n * 7} objects watched) | first deployments ${deployed.toFixed(1)} s, all SYNCED ${allSynced.toFixed(1)} s | ` +
        `piped idle: CPU ${(idleCpu * 100).toFixed(1)}%, RSS ${idleRss.now.toFixed(0)} MiB | ` +
        `drift → OUT_OF_SYNC p50 ${pct(latencies, 50).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms (max ${Math.max(...latencies).toFixed(0)} ms, ${DRIFTS} drifts; CPU ${(driftCpu * 100).toFixed(1)}%) | ` +
        `RSS peak ${rss.peak.toFixed(0)} MiB`,
    );
  } finally {
    await s.close();
  }
}

await forSizes([200], run);
