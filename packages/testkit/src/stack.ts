import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { createRestClient, type ResponseOf, type RestClient } from "@pipecd-ts/rest-api";
import { ChangeFeed } from "./changes.js";
import { freePort } from "./ports.js";
import { repoRoot, runCommand } from "./tools.js";

/** A web user of the test control plane (password = `<username>-secret`). */
export interface StackUser {
  username: string;
  role: "viewer" | "editor" | "admin";
}

/** A child process started by the stack. */
export interface StackProcess {
  proc: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** SIGKILL and wait for it to exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait (the graceful path). */
  stop(): Promise<void>;
}

/** Every child the stack launched and has not seen exit: killed if this process goes away. */
const live = new Set<ChildProcess>();
let exitHooked = false;
function killLive(): void {
  for (const p of live) p.kill("SIGKILL");
}
/**
 * A test file that is killed (its timeout, Ctrl-C) never runs its `after` hooks: take the stack's
 * processes along instead of leaving kube-sims and pipeds running.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once("exit", killLive);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const)
    process.once(sig, () => {
      // A program with its own handler (the demo) stops the stack gracefully itself.
      if (process.listenerCount(sig) > 0) return;
      killLive();
      process.kill(process.pid, sig);
    });
}

/**
 * Starts `bin/<bin>` (a launcher: kube-sim, pipecd-server, piped) and resolves once `ready`
 * appears in its output (30 s at most). If the test process goes away, the child goes with it.
 */
export async function launch(
  bin: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<StackProcess> {
  const proc = spawn(join(repoRoot(), "bin", bin), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  hookExit();
  live.add(proc);
  let out = "";
  const exited = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      live.delete(proc);
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${bin} not ready within 30 s:\n${out.slice(-3000)}`)),
      30_000,
    );
    const on = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on("data", on);
    proc.stderr?.on("data", on);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(`${bin} exited with ${String(code)} before it was ready:\n${out.slice(-3000)}`),
      );
    });
  });
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited;
  };
  return { proc, output: () => out, kill: () => end("SIGKILL"), stop: () => end("SIGTERM") };
}

/** `bin/pipecd-server` flags for a control plane on loopback ports with its state in `dataDir`. */
export function controlPlaneArgs(o: {
  dataDir: string;
  httpPort: number;
  grpcPort: number;
  logLevel?: string;
}): string[] {
  return [
    "--data-dir",
    o.dataDir,
    "--http-port",
    String(o.httpPort),
    "--grpc-port",
    String(o.grpcPort),
    "--listen-host",
    "127.0.0.1",
    "--log-level",
    o.logLevel ?? "warn",
  ];
}

/**
 * A piped config (PipeCD's `kind: Piped`) for a test: one Kubernetes platform provider, the
 * given repositories, and `extraSpec` (two-space indented keys) appended to `spec`.
 */
export function pipedConfigYaml(o: {
  pipedId: string;
  /** `pipedKeyFile` or inline `pipedKeyData`. */
  key: { file: string } | { data: string };
  apiAddress: string;
  kubeconfigPath: string;
  repositories?: { repoId: string; remote: string; branch: string }[];
  syncInterval?: string;
  extraSpec?: string;
}): string {
  const key =
    "file" in o.key
      ? `pipedKeyFile: ${o.key.file}`
      : `pipedKeyData: ${Buffer.from(o.key.data).toString("base64")}`;
  const repos = (o.repositories ?? []).map(
    (r) => `    - repoId: ${r.repoId}\n      remote: ${r.remote}\n      branch: ${r.branch}\n`,
  );
  return `apiVersion: pipecd.dev/v1beta1
kind: Piped
spec:
  projectID: default
  pipedID: ${o.pipedId}
  ${key}
  apiAddress: ${o.apiAddress}
${o.syncInterval ? `  syncInterval: ${o.syncInterval}\n` : ""}${repos.length ? `  repositories:\n${repos.join("")}` : ""}  platformProviders:
    - name: kubernetes-default
      type: KUBERNETES
      config:
        kubeConfigPath: ${o.kubeconfigPath}
${o.extraSpec ?? ""}`;
}

/** A bare Git repository plus a working clone to commit from. */
export interface TestRepo {
  /** The bare repository (the piped's `remote`). */
  bare: string;
  /** Writes (or, for null, deletes) files and commits them; returns the commit hash. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  /**
   * Commits `files` on a new branch `name` from main and pushes it (main is left as it was);
   * returns the branch's commit.
   */
  branch(name: string, files: Record<string, string | null>, message: string): Promise<string>;
}

/**
 * Runs the real git CLI in `cwd` (with a committer identity and `main` as the initial branch);
 * resolves with its trimmed stdout, rejects with its stderr.
 */
export async function git(cwd: string, args: string[]): Promise<string> {
  const identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"];
  const r = await runCommand(
    "git",
    ["-C", cwd, ...identity, "-c", "init.defaultBranch=main", ...args],
    { timeoutMs: 30_000 },
  );
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export async function createTestRepo(dir: string): Promise<TestRepo> {
  const bare = join(dir, "remote.git");
  const work = join(dir, "work");
  await mkdir(bare, { recursive: true });
  await git(bare, ["init", "--quiet", "--bare", "--initial-branch=main"]);
  await mkdir(work, { recursive: true });
  await git(work, ["init", "--quiet", "--initial-branch=main"]);
  await git(work, ["config", "user.email", "dev@example.com"]);
  await git(work, ["config", "user.name", "Dev"]);
  await git(work, ["remote", "add", "origin", bare]);
  const write = async (files: Record<string, string | null>, message: string): Promise<void> => {
    for (const [path, content] of Object.entries(files)) {
      const full = join(work, path);
      if (content === null) await rm(full, { force: true });
      else {
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, content);
      }
    }
    await git(work, ["add", "-A"]);
    await git(work, ["commit", "--quiet", "--allow-empty", "-m", message]);
  };
  return {
    bare,
    async commit(files, message) {
      await write(files, message);
      await git(work, ["push", "--quiet", "origin", "HEAD:main"]);
      return git(work, ["rev-parse", "HEAD"]);
    },
    async branch(name, files, message) {
      await git(work, ["checkout", "--quiet", "-b", name]);
      try {
        await write(files, message);
        await git(work, ["push", "--quiet", "origin", `HEAD:refs/heads/${name}`]);
        return await git(work, ["rev-parse", "HEAD"]);
      } finally {
        await git(work, ["checkout", "--quiet", "main"]);
      }
    },
  };
}

/** Options of {@link startStack}. */
export interface StackOptions {
  users?: StackUser[];
  /** Pod readiness delay in kube-sim. */
  readyDelayMs?: number;
  /** The piped's Git poll interval. */
  syncInterval?: string;
  /** The control plane's datastore URL (`--datastore`); default SQLite in the stack's dir. */
  datastore?: string;
  /** Use this directory (created) instead of a temporary one; `close()` still removes it. */
  dir?: string;
  /** YAML appended to every piped config's `spec` (two-space indented keys, e.g. "  safety: {…}\n"). */
  pipedSpec?: string;
  /** YAML appended to the control-plane config's `spec` (two-space indented keys). */
  controlPlaneSpec?: string;
  /** More flags for every piped (e.g. `--admin-port`). */
  pipedArgs?: string[];
  /** The pipeds' `--tools-dir` (helm, kubectl). */
  toolsDir?: string;
  /** Fixed control-plane ports (default: free loopback ports). */
  httpPort?: number;
  grpcPort?: number;
  /**
   * Control-plane replicas on the same `datastore` (PostgreSQL), each with its own ports and data
   * directory; pipeds are given every replica's gRPC address. Default 1.
   */
  replicas?: number;
}

/** A further control-plane replica (see {@link StackOptions.replicas}). */
export interface StackReplica {
  httpUrl: string;
  /** host:port of its gRPC PipedService. */
  grpcAddress: string;
  process: StackProcess;
  /** Starts it again (same ports and data directory) after it stopped or was killed. */
  start(): Promise<void>;
}

/** A further cluster: its own kube-sim and a piped of its own, registered with the control plane. */
export interface StackCluster {
  pipedId: string;
  sim: StackProcess & { url: string; kubeconfigPath: string };
  piped: StackProcess;
}

/** The outcome of a `bin/pipectl` run. */
export interface PipectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A deployment as the REST API returns it. */
export type DeploymentJson = ResponseOf<"getDeployment">["deployment"];

/**
 * The whole product over real processes for tests: kube-sim (in-process, HTTPS), the control
 * plane (`bin/pipecd-server`, SQLite) on fixed loopback ports so it can be restarted, a bare Git
 * repository, and a piped (`bin/piped`) that can be SIGKILLed and restarted.
 */
export interface Stack {
  dir: string;
  /** kube-sim (bin/kube-sim), its kubeconfig, and its fault-injection API. */
  sim: StackProcess & {
    url: string;
    kubeconfigPath: string;
    /** Adds a fault (kube-sim `POST /kube-sim/faults`); returns its id. */
    addFault(spec: Record<string, unknown>): Promise<string>;
    /** Removes every fault. */
    clearFaults(): Promise<void>;
    /** The active faults with how often each hit. */
    listFaults(): Promise<{ id: string; hits: number }[]>;
  };
  repo: TestRepo;
  httpUrl: string;
  /** host:port of the (first) control plane's gRPC PipedService. */
  grpcAddress: string;
  adminKey: string;
  /** The admin API key in a file (mode 0600), for `pipectl --api-key-file`. */
  adminKeyFile: string;
  admin: RestClient;
  pipedId: string;
  controlPlane: StackProcess;
  /** The replicas beyond {@link controlPlane} (empty unless `replicas` > 1). */
  replicas: StackReplica[];
  piped: StackProcess | undefined;
  /** A REST client signed in as a config user (session cookie). */
  as(username: string): Promise<RestClient>;
  startPiped(): Promise<StackProcess>;
  restartControlPlane(downMs?: number): Promise<void>;
  stopControlPlane(): Promise<void>;
  startControlPlane(): Promise<void>;
  /** Registers an application of the piped (or `pipedId`) at `path` in the repo. */
  addApp(name: string, path: string, pipedId?: string): Promise<string>;
  /** Starts another kube-sim with a piped of its own (same Git repo): a second cluster. */
  addCluster(name: string): Promise<StackCluster>;
  /** Runs `bin/pipectl` against this control plane as admin (`--address`, `--api-key-file`). */
  pipectl(
    args: string[],
    o?: { timeoutMs?: number; apiKeyFile?: string; input?: string },
  ): Promise<PipectlResult>;
  /**
   * Like testkit's {@link eventually}, for state behind the control plane: `fn` is re-evaluated
   * whenever the control plane announces a change (server-sent events) and at least every 250 ms,
   * instead of every 20 ms, which kept e2e files busy polling.
   */
  eventually<T>(
    fn: () => Promise<T | undefined | false>,
    timeoutMs?: number,
    what?: string,
  ): Promise<T>;
  /** The first deployment of an app matching `pred` ({@link Stack.eventually}). */
  waitDeployment(
    appId: string,
    pred: (d: DeploymentJson) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<DeploymentJson>;
  deployments(appId: string): Promise<DeploymentJson[]>;
  close(): Promise<void>;
}

/** Starts a {@link Stack} in a temporary directory. */
export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), "pipecd-stack-")));
  await mkdir(dir, { recursive: true });
  const kubeconfigPath = join(dir, "kubeconfig");
  const startSim = async (kubeconfig: string) => {
    const p = await launch(
      "kube-sim",
      ["--port", "0", "--kubeconfig", kubeconfig, "--ready-delay", String(o.readyDelayMs ?? 200)],
      /kube-sim ready/,
    );
    return {
      ...p,
      url: /kube-sim ready (\S+)/.exec(p.output())?.[1] ?? "",
      kubeconfigPath: kubeconfig,
    };
  };
  const users = o.users ?? [];
  const hash = async (pw: string): Promise<string> => {
    const r = await runCommand(join(repoRoot(), "bin", "pipecd-server"), ["hash-password"], {
      input: pw,
      timeoutMs: 30_000,
    });
    if (r.code !== 0) throw new Error(`hash-password failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  // Independent set-up steps run side by side (each costs a process start or more).
  const [simProc, repo, hashes] = await Promise.all([
    startSim(kubeconfigPath),
    createTestRepo(join(dir, "git")),
    Promise.all(users.map((u) => hash(`${u.username}-secret`))),
  ]);
  const simUrl = simProc.url;
  const kc = parseYaml(await readFile(kubeconfigPath, "utf8")) as {
    clusters: { cluster: { "certificate-authority-data"?: string } }[];
    users: { user: { token: string } }[];
  };
  const ca = Buffer.from(kc.clusters[0]?.cluster["certificate-authority-data"] ?? "", "base64");
  const token = kc.users[0]?.user.token ?? "";
  const faultsApi = (method: string, body?: unknown): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${simUrl}/kube-sim/faults`,
        {
          method,
          ca,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          timeout: 10_000,
        },
        (res) => {
          let out = "";
          res.on("data", (d: Buffer) => (out += d.toString()));
          res.on("end", () =>
            (res.statusCode ?? 500) < 300
              ? resolve(out)
              : reject(new Error(`kube-sim faults: HTTP ${res.statusCode ?? 0}: ${out}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const sim = {
    ...simProc,
    url: simUrl,
    kubeconfigPath,
    addFault: async (spec: Record<string, unknown>) =>
      (JSON.parse(await faultsApi("POST", spec)) as { id: string }).id,
    clearFaults: async () => {
      await faultsApi("DELETE");
    },
    listFaults: async () =>
      (JSON.parse(await faultsApi("GET")) as { faults: { id: string; hits: number }[] }).faults,
  };
  const httpPort = o.httpPort ?? (await freePort());
  const grpcPort = o.grpcPort ?? (await freePort());
  const adminKey = `${randomUUID()}.${randomBytes(32).toString("base64url")}`;
  const keyFile = join(dir, "admin-key");
  await writeFile(keyFile, adminKey, { mode: 0o600 });
  const cpConfig = join(dir, "control-plane.yaml");
  const userLines = users.map(
    (u, i) =>
      `    - username: ${u.username}\n      passwordHash: "${hashes[i] ?? ""}"\n      role: ${u.role}`,
  );
  await writeFile(
    cpConfig,
    `apiVersion: pipecd-ts.dev/v1beta1\nkind: ControlPlane\nspec:\n  users:${userLines.length ? `\n${userLines.join("\n")}` : " []"}\n${o.controlPlaneSpec ?? ""}`,
  );
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const cpArgs = [
    ...controlPlaneArgs({ dataDir: join(dir, "cp-data"), httpPort, grpcPort }),
    "--bootstrap-admin-key-file",
    keyFile,
    "--config",
    cpConfig,
    "--grace-period",
    "2000",
    ...(o.datastore ? ["--datastore", o.datastore] : []),
  ];
  const startCp = (): Promise<StackProcess> =>
    launch("pipecd-server", cpArgs, /pipecd-server ready/);
  if ((o.replicas ?? 1) > 1 && !o.datastore?.startsWith("postgres"))
    throw new Error("control-plane replicas share a PostgreSQL datastore: set `datastore`");
  const replicas: StackReplica[] = [];
  for (let i = 1; i < (o.replicas ?? 1); i++) {
    const ports = { httpPort: await freePort(), grpcPort: await freePort() };
    const args = [
      ...controlPlaneArgs({ dataDir: join(dir, `cp-data-${i}`), ...ports }),
      "--config",
      cpConfig,
      "--grace-period",
      "2000",
      "--datastore",
      o.datastore ?? "",
    ];
    const replica: StackReplica = {
      httpUrl: `http://127.0.0.1:${ports.httpPort}`,
      grpcAddress: `127.0.0.1:${ports.grpcPort}`,
      process: undefined as unknown as StackProcess,
      async start() {
        replica.process = await launch("pipecd-server", args, /pipecd-server ready/);
      },
    };
    replicas.push(replica);
  }
  const apiAddress = [`127.0.0.1:${grpcPort}`, ...replicas.map((r) => r.grpcAddress)].join(",");
  const admin = createRestClient({ baseUrl: httpUrl, apiKey: adminKey, timeoutMs: 10_000 });
  const changes = new ChangeFeed(httpUrl, adminKey);
  /** Processes of further clusters, stopped by close(). */
  const extra: StackProcess[] = [];
  /** Registers a piped and writes its key and config as `piped<suffix>.yaml`; returns its id. */
  const registerPiped = async (name: string, kubeconfig: string, suffix: string) => {
    const piped = await admin.call("registerPiped", { body: { name } });
    await writeFile(join(dir, `piped-key${suffix}`), piped.key, { mode: 0o600 });
    await writeFile(
      join(dir, `piped${suffix}.yaml`),
      pipedConfigYaml({
        pipedId: piped.id,
        key: { file: join(dir, `piped-key${suffix}`) },
        apiAddress,
        kubeconfigPath: kubeconfig,
        repositories: [{ repoId: "repo", remote: repo.bare, branch: "main" }],
        syncInterval: o.syncInterval ?? "1s",
        extraSpec: o.pipedSpec,
      }),
    );
    return piped.id;
  };
  const launchPiped = (suffix: string): Promise<StackProcess> =>
    launch(
      "piped",
      [
        "--config",
        join(dir, `piped${suffix}.yaml`),
        "--insecure",
        "--work-dir",
        join(dir, `piped-work${suffix}`),
        "--log-level",
        "info",
        "--grace-period",
        "2000",
        ...(o.toolsDir ? ["--tools-dir", o.toolsDir] : []),
        ...(o.pipedArgs ?? []),
      ],
      /piped ready/,
    );
  const stack: Stack = {
    dir,
    sim,
    repo,
    httpUrl,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    adminKey,
    adminKeyFile: keyFile,
    admin,
    pipedId: "",
    controlPlane: await startCp(),
    replicas,
    piped: undefined,
    async as(username) {
      const res = await fetch(`${httpUrl}/api/v1/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password: `${username}-secret` }),
      });
      if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status}`);
      const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      return createRestClient({ baseUrl: httpUrl, headers: { cookie }, timeoutMs: 10_000 });
    },
    async startPiped() {
      stack.piped = await launchPiped("");
      return stack.piped;
    },
    async addCluster(name) {
      const csim = await startSim(join(dir, `kubeconfig-${name}`));
      extra.push(csim);
      const pipedId = await registerPiped(name, csim.kubeconfigPath, `-${name}`);
      const piped = await launchPiped(`-${name}`);
      extra.push(piped);
      return { pipedId, sim: csim, piped };
    },
    async pipectl(args, po = {}) {
      const r = await runCommand(
        join(repoRoot(), "bin", "pipectl"),
        ["--address", httpUrl, "--api-key-file", po.apiKeyFile ?? keyFile, ...args],
        { timeoutMs: po.timeoutMs ?? 60_000, input: po.input },
      );
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async stopControlPlane() {
      await stack.controlPlane.stop();
    },
    async startControlPlane() {
      stack.controlPlane = await startCp();
    },
    async restartControlPlane(downMs = 0) {
      await stack.controlPlane.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      stack.controlPlane = await startCp();
    },
    async addApp(name, path, pipedId) {
      const res = await admin.call("addApplication", {
        body: { name, pipedId: pipedId ?? stack.pipedId, gitPath: { repoId: "repo", path } },
      });
      return res.id;
    },
    async deployments(appId) {
      return (await admin.call("listDeployments", { query: { applicationId: appId, limit: 100 } }))
        .deployments;
    },
    async eventually(fn, timeoutMs = 30_000, what = "condition") {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const changed = changes.next();
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await changed;
      }
    },
    async waitDeployment(appId, pred, timeoutMs = 30_000, what = "deployment") {
      return stack.eventually(
        async () => (await stack.deployments(appId)).find(pred),
        timeoutMs,
        what,
      );
    },
    async close() {
      changes.close();
      await stack.piped?.stop().catch(() => undefined);
      for (const p of extra.splice(0).reverse()) await p.stop().catch(() => undefined);
      await stack.controlPlane.stop().catch(() => undefined);
      for (const r of replicas) await r.process?.stop().catch(() => undefined);
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  // After the first, which has created the schema and the admin key.
  for (const r of replicas) await r.start();
  stack.pipedId = await registerPiped("test-piped", sim.kubeconfigPath, "");
  return stack;
}
