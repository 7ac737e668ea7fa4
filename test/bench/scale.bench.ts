// Scale of one piped (issue 17): for N applications in one repository, prints
//   - the time from registering them to every first deployment SUCCESS;
//   - commit touching one app → its deployment PENDING, p50/p99 over 10 commits;
//   - the piped's CPU (with its git children) while idle for 15 s, its RSS then and at its peak.
// Usage: node --import tsx test/bench/scale.bench.ts [N ...]   (default: 100 300 1000)
// Real processes: control plane (SQLite), kube-sim, piped with syncInterval 10s.
import { readFile } from "node:fs/promises";
import { startStack, type Stack } from "@pipecd-ts/testkit";

const app = (i: number): Record<string, string> => ({
  [`apps/a${i}/app.pipecd.yaml`]: `apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: a${i}\n`,
  [`apps/a${i}/configmap.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a${i} }\ndata: { v: "1" }\n`,
});

/** CPU seconds (user + system, with reaped children) of a process, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  // Fields after "(comm) ": state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(f[i] ?? 0), 0);
  return ticks / 100;
}

/** Resident memory of a process now and at its peak (VmHWM), in MiB. */
async function rssMiB(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function run(n: number): Promise<void> {
  const s: Stack = await startStack({ readyDelayMs: 0, syncInterval: "10s" });
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) Object.assign(files, app(i));
    await s.repo.commit(files, `${n} apps`);
    await s.startPiped();
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < n; i += 50)
      ids.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(50, n - i) }, (_, j) =>
            s.addApp(`a${i + j}`, `apps/a${i + j}`),
          ),
        )),
      );
    for (const deadline = Date.now() + 30 * 60_000; (await countSuccess(s)) < n;) {
      if (Date.now() > deadline) throw new Error("not every first deployment within 30 min");
      await new Promise((r) => setTimeout(r, 500));
    }
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
    const c0 = await cpuSeconds(pid);
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, 15_000));
    const idleCpu = ((await cpuSeconds(pid)) - c0) / ((Date.now() - w0) / 1000);
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

/**
 * Successful deployments, from the control plane's `pipecd_deployments` gauge: one COUNT per
 * call, where listing every deployment on every change made the bench itself a load.
 */
async function countSuccess(s: Stack): Promise<number> {
  const res = await fetch(`${s.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${s.adminKey}` },
    signal: AbortSignal.timeout(10_000),
  });
  const m = /^pipecd_deployments\{status="DEPLOYMENT_SUCCESS"\} (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? 0);
}

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((x) => x > 0);
for (const n of sizes.length ? sizes : [100, 300, 1000]) await run(n);
