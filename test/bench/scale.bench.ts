// Scale of one piped (issue 17): for N applications in one repository, prints
//   - the time from registering them to every first deployment SUCCESS;
//   - commit touching one app → its deployment PENDING, p50/p99 over 10 commits;
//   - the piped's CPU (with its git children) while idle for 15 s, its RSS then and at its peak.
// Usage: node --import tsx test/bench/scale.bench.ts [N ...]   (default: 100 300 1000)
// Real processes: control plane (SQLite), kube-sim, piped with syncInterval 10s.
import { startStack, type Stack } from "@pipecd-ts/testkit";
import { addApps, cpuOver, pct, rssMiB, waitForSuccesses, forSizes } from "./common.js";

const app = (i: number): Record<string, string> => ({
  [`apps/a${i}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: a${i}\n`,
  [`apps/a${i}/configmap.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a${i} }\ndata: { v: "1" }\n`,
});

async function run(n: number): Promise<void> {
  const s: Stack = await startStack({ readyDelayMs: 0, syncInterval: "10s" });
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) Object.assign(files, app(i));
    await s.repo.commit(files, `${n} apps`);
    await s.startPiped();
    const started = Date.now();
    const ids = await addApps(s, n);
    await waitForSuccesses(s, n);
    const firstAll = (Date.now() - started) / 1000;

    const latencies: number[] = [];
    for (let k = 0; k < 10; k++) {
      const i = (k * 37) % n;
      const t0 = Date.now();
      const commit = await s.repo.commit(
        {
          [`apps/a${i}/configmap.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a${i} }\ndata: { v: "${k + 2}" }\n`,
        },
        `change a${i}`,
      );
      await s.eventually(
        async () =>
          (await s.deployments(ids[i] ?? "")).some((d) => d.trigger?.commit?.hash === commit),
        120_000,
        `a${i}'s deployment of ${commit}`,
      );
      latencies.push((Date.now() - t0) / 1000);
    }
    // Idle: let the last deployment finish, then sample 15 s.
    await new Promise((r) => setTimeout(r, 5_000));
    const pid = s.piped?.proc.pid ?? 0;
    const idleCpu = await cpuOver(pid, 15_000);
    const rss = await rssMiB(pid);
    console.log(
      `${String(n).padStart(5)} apps | first deployments of all: ${firstAll.toFixed(1)} s | ` +
        `commit → PENDING p50 ${pct(latencies, 50).toFixed(1)} s, p99 ${pct(latencies, 99).toFixed(1)} s | ` +
        `piped idle CPU ${(idleCpu * 100).toFixed(1)}% | RSS ${rss.now.toFixed(0)} MiB (peak ${rss.peak.toFixed(0)} MiB)`,
    );
  } finally {
    await s.close();
  }
}

await forSizes([100, 300, 1000], run);
