// What the benches measure of a process, from /proc, and how they summarise samples.
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
