// Benchmark (not a test): start-up of the programs as bin/* runs them (esbuild bundles under
// plain node, scripts/build-launchers.mjs) against the TypeScript sources under tsx, and against
// `node -e 0` measured in the same run. Runs are interleaved, so load on the machine hits every
// variant alike; medians are printed.
//   - `bin/pipectl --help` as a ratio of `node -e 0` (issue 12: at most 3×);
//   - time to the ready line of kube-sim, the control plane and a piped: what every e2e test
//     pays for each process it starts.
// Usage: node --import tsx test/bench/cli-start.bench.ts [--runs 20] [--ready-runs 5]
import { spawn, spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createRestClient } from "@pipecd-ts/rest-api";
import { controlPlaneArgs, freePort, pipedConfigYaml, repoRoot } from "@pipecd-ts/testkit";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    "ready-runs": { type: "string", default: "5" },
  },
});
const RUNS = Number(values.runs);
const READY_RUNS = Number(values["ready-runs"]);
const root = repoRoot();
const tsx = join(root, "node_modules", "tsx", "dist", "esm", "index.mjs");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** Wall time of one run of `cmd` to its exit, in ms; fails on a non-zero exit. */
function timeRun(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")}: exit ${String(r.status)}: ${r.stderr.toString()}`);
  return ms;
}

/** Time from spawn to `ready` in the output, in ms; the process is then killed. */
async function timeReady(cmd: string, args: string[], ready: RegExp): Promise<number> {
  const t0 = performance.now();
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  const closed = new Promise((r) => p.once("close", r));
  let out = "";
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${cmd}: not ready in 60 s:\n${out}`)),
        60_000,
      );
      const on = (d: Buffer): void => {
        out += d.toString();
        if (ready.test(out)) {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        }
      };
      p.stdout.on("data", on);
      p.stderr.on("data", on);
      p.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited ${String(code)} before ready:\n${out}`));
      });
    });
  } finally {
    p.kill("SIGKILL");
    await closed;
  }
}

const row = (name: string, ms: number, base?: number): string =>
  `  ${name.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms${base ? `  ${(ms / base).toFixed(2)}×` : ""}`;

// 1. pipectl --help
const help: Record<string, number[]> = { node: [], launcher: [], bundle: [], tsx: [] };
timeRun(join(root, "bin", "pipectl"), ["--help"]); // a rebuild, if the sources changed, is not start-up
for (let i = 0; i < RUNS; i++) {
  help.node?.push(timeRun(process.execPath, ["-e", "0"]));
  help.launcher?.push(timeRun(join(root, "bin", "pipectl"), ["--help"]));
  help.bundle?.push(
    timeRun(process.execPath, [join(root, "apps/pipectl/dist/pipectl.mjs"), "--help"]),
  );
  if (i < Math.min(RUNS, 5))
    help.tsx?.push(
      timeRun(process.execPath, [
        "--import",
        tsx,
        join(root, "apps/pipectl/src/main.ts"),
        "--help",
      ]),
    );
}
const nodeMs = median(help.node ?? []);
const launcherMs = median(help.launcher ?? []);
process.stdout.write(`pipectl --help, median of ${RUNS} runs (ratio to node -e 0):\n`);
process.stdout.write(`${row("node -e 0", nodeMs)}\n`);
process.stdout.write(`${row("bin/pipectl --help (bash + bundle)", launcherMs, nodeMs)}\n`);
process.stdout.write(
  `${row("node apps/pipectl/dist/pipectl.mjs --help", median(help.bundle ?? []), nodeMs)}\n`,
);
process.stdout.write(
  `${row("node --import tsx src/main.ts --help (5 runs)", median(help.tsx ?? []), nodeMs)}\n`,
);
process.stdout.write(`pipectl start-up ratio: ${(launcherMs / nodeMs).toFixed(2)} (goal ≤ 3)\n`);

// 2. time to ready, bundle vs tsx
const dir = await mkdtemp(join(tmpdir(), "cli-start-bench-"));
try {
  const adminKey = `${randomUUID()}.${randomBytes(32).toString("base64url")}`;
  await writeFile(join(dir, "admin-key"), adminKey, { mode: 0o600 });
  const cpArgs = (n: number, http: number, grpcPort: number): string[] => [
    ...controlPlaneArgs({ dataDir: join(dir, `cp-${n}`), httpPort: http, grpcPort }),
    "--bootstrap-admin-key-file",
    join(dir, "admin-key"),
  ];
  // A control plane the pipeds connect to, and a registered piped.
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const cp = spawn(join(root, "bin", "pipecd-server"), cpArgs(0, httpPort, grpcPort), {
    stdio: "ignore",
  });
  // The piped needs a cluster to start.
  const sim = spawn(
    join(root, "bin", "kube-sim"),
    ["--port", "0", "--kubeconfig", join(dir, "kc")],
    {
      stdio: "ignore",
    },
  );
  try {
    const admin = createRestClient({
      baseUrl: `http://127.0.0.1:${httpPort}`,
      apiKey: adminKey,
      timeoutMs: 5_000,
    });
    let reg: { id: string; key: string } | undefined;
    for (let i = 0; i < 300 && !reg; i++)
      reg = await admin.call("registerPiped", { body: { name: "bench" } }).catch(async () => {
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    if (!reg) throw new Error("the control plane did not come up");
    for (let i = 0; i < 300 && !existsSync(join(dir, "kc")); i++)
      await new Promise((r) => setTimeout(r, 100));
    await writeFile(
      join(dir, "piped.yaml"),
      pipedConfigYaml({
        pipedId: reg.id,
        key: { data: reg.key },
        apiAddress: `127.0.0.1:${grpcPort}`,
        kubeconfigPath: join(dir, "kc"),
      }),
    );
    const programs = [
      {
        name: "kube-sim",
        src: "packages/kube-sim/src/main.ts",
        bundle: "packages/kube-sim/dist/kube-sim.mjs",
        args: (n: number) => ["--port", "0", "--kubeconfig", join(dir, `kc-${n}`)],
        ready: /kube-sim ready/,
      },
      {
        name: "pipecd-server",
        src: "apps/control-plane/src/main.ts",
        bundle: "apps/control-plane/dist/pipecd-server.mjs",
        args: (n: number) => cpArgs(n, 0, 0),
        ready: /pipecd-server ready/,
      },
      {
        name: "piped",
        src: "apps/piped/src/main.ts",
        bundle: "apps/piped/dist/piped.mjs",
        args: (n: number) => [
          "--config",
          join(dir, "piped.yaml"),
          "--insecure",
          "--work-dir",
          join(dir, `piped-${n}`),
        ],
        ready: /piped ready/,
      },
    ];
    process.stdout.write(`time to the ready line, median of ${READY_RUNS} runs:\n`);
    let n = 1;
    for (const p of programs) {
      const bundleMs: number[] = [];
      const tsxMs: number[] = [];
      for (let i = 0; i < READY_RUNS; i++) {
        bundleMs.push(
          await timeReady(process.execPath, [join(root, p.bundle), ...p.args(n++)], p.ready),
        );
        tsxMs.push(
          await timeReady(
            process.execPath,
            ["--import", tsx, join(root, p.src), ...p.args(n++)],
            p.ready,
          ),
        );
      }
      const b = median(bundleMs);
      const t = median(tsxMs);
      process.stdout.write(
        `  ${p.name.padEnd(14)} bundle ${b.toFixed(0).padStart(5)} ms   tsx ${t.toFixed(0).padStart(5)} ms   saved ${(t - b).toFixed(0)} ms per start\n`,
      );
    }
  } finally {
    cp.kill("SIGTERM");
    sim.kill("SIGTERM");
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
