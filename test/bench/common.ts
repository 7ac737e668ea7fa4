// What the benches share: a process's CPU and memory from /proc, percentiles, and setting up
// and deploying many applications on one stack.
import { readFile } from "node:fs/promises";
import type { Stack } from "@pipecd-ts/testkit";

/** CPU seconds (user + system, with reaped children) of a process, from /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  // Fields after "(comm) ": state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(f[i] ?? 0), 0);
  return ticks / 100;
}

/** Resident memory of a process now and at its peak (VmHWM), in MiB. */
export async function rssMiB(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** The p-th percentile (nearest rank) of `xs`. */
export const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

/** A process's CPU use (1.0 = one core) over `ms`. */
export async function cpuOver(pid: number, ms: number): Promise<number> {
  const c0 = await cpuSeconds(pid);
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((await cpuSeconds(pid)) - c0) / ((Date.now() - w0) / 1000);
}

/**
 * Successful deployments, from the control plane's `pipecd_deployments` gauge: one COUNT per
 * call, where listing every deployment on every change made the bench itself a load.
 */
export async function countSuccess(s: Stack): Promise<number> {
  const res = await fetch(`${s.httpUrl}/metrics`, {
    headers: { authorization: `Bearer ${s.adminKey}` },
    signal: AbortSignal.timeout(10_000),
  });
  const m = /^pipecd_deployments\{status="DEPLOYMENT_SUCCESS"\} (\d+)/m.exec(await res.text());
  return Number(m?.[1] ?? 0);
}

/** Registers apps a0…a(n-1) at apps/a<i>, 50 at a time; returns their ids in order. */
export async function addApps(s: Stack, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50)
    ids.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, j) =>
          s.addApp(`a${i + j}`, `apps/a${i + j}`),
        ),
      )),
    );
  return ids;
}

/** Waits (at most 30 min) until `n` deployments have succeeded. */
export async function waitForSuccesses(s: Stack, n: number): Promise<void> {
  for (const deadline = Date.now() + 30 * 60_000; (await countSuccess(s)) < n;) {
    if (Date.now() > deadline) throw new Error("not every first deployment within 30 min");
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs `run` for each size on the command line, else for `defaults`, one after the other. */
export async function forSizes(
  defaults: number[],
  run: (n: number) => Promise<void>,
): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0);
  for (const n of sizes.length ? sizes : defaults) await run(n);
}
