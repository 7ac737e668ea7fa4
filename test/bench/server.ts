// What the benchmarks share: a control plane as a separate process (bin/pipecd-server, as
// deployed), its CPU time and memory from /proc, percentiles, a fresh PostgreSQL database.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;

/** A control plane process with its REST and gRPC addresses. */
export interface BenchServer {
  child: ChildProcess;
  http: string;
  grpc: string;
}

/** Starts bin/pipecd-server on `dataDir` with `key` as its admin API key. */
export async function startServer(
  datastore: string | undefined,
  dataDir: string,
  key: string,
): Promise<BenchServer> {
  const keyFile = join(dataDir, "bootstrap-key");
  await writeFile(keyFile, key, { mode: 0o600 });
  const args = [
    "--data-dir",
    dataDir,
    "--http-port",
    "0",
    "--grpc-port",
    "0",
    "--listen-host",
    "127.0.0.1",
    "--bootstrap-admin-key-file",
    keyFile,
    "--log-level",
    "warn",
  ];
  if (datastore) args.push("--datastore", datastore);
  const child = spawn(join(root, "bin/pipecd-server"), args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ready = await new Promise<{ http: string; grpc: string }>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`server not ready in 30s: ${buf}`)), 30_000);
    child.stderr.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /pipecd-server ready http=(\S+) grpc=(\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ http: m[1]!, grpc: m[2]! });
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}: ${buf}`)));
  });
  return { child, ...ready };
}

/** SIGTERM, then waits for the exit. */
export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** User+system CPU seconds used so far by process `pid` (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Resident and peak resident memory of `pid` in MiB (VmRSS, VmHWM). */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** The `q` quantile (0..1) of `xs`. */
export function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

/** A new database on the server at PG_URL (started by scripts/with-postgres.sh). */
export async function freshPgDatabase(): Promise<string> {
  const url = process.env.PG_URL;
  if (!url) throw new Error("PG_URL is not set");
  const pg = await import("pg");
  const admin = new pg.default.Client({ connectionString: url });
  await admin.connect();
  const db = `bench_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  return url.replace(/\/[^/]*$/, `/${db}`);
}
