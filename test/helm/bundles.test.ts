import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startKubeSim, type KubeSim } from "@pipecd-ts/kube-sim";
import { createRestClient } from "@pipecd-ts/rest-api";
import {
  controlPlaneArgs,
  eventually,
  freePort,
  pipedConfigYaml,
  repoRoot,
  runCommand,
} from "@pipecd-ts/testkit";

// The production bundles the images run (scripts/build-bundles.mjs, deploy/docker/): built with
// esbuild and started with plain node (no tsx, no workspace sources) from a directory holding
// only the bundle and, for the control plane, the external native module, as in the images.
// The control plane answers /healthz; the piped starts, connects and reports its meta.

describe("production bundles", () => {
  let dir = "";
  let sim: KubeSim;
  const procs: ChildProcess[] = [];

  /** Starts `node <bundle> ...args`; resolves once `ready` appears in its output. */
  async function startBundle(
    service: string,
    args: string[],
    ready: RegExp,
  ): Promise<{ proc: ChildProcess; output: () => string }> {
    const proc = spawn(process.execPath, [join(dir, "app", service, "main.mjs"), ...args], {
      cwd: join(dir, "app", service),
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
    });
    procs.push(proc);
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(
      () =>
        proc.exitCode !== null
          ? Promise.reject(new Error(`${service} exited ${proc.exitCode}:\n${out}`))
          : Promise.resolve(ready.test(out)),
      30_000,
      `${service} bundle ready`,
    );
    return { proc, output: () => out };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bundles-"));
    sim = await startKubeSim({ port: 0, kubeconfigPath: join(dir, "kubeconfig") });
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await sim?.close();
    // A git child of the killed piped may still be writing its mirror: retry the removal.
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it("build-bundles writes one ESM bundle per service, with better-sqlite3 left external", async () => {
    const r = await runCommand(
      process.execPath,
      [join(repoRoot(), "scripts", "build-bundles.mjs"), "--out", join(dir, "app")],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bundle control-plane: .* KiB/);
    assert.match(r.stdout, /bundle piped: .* KiB/);
    for (const service of ["control-plane", "piped"]) {
      const text = await readFile(join(dir, "app", service, "main.mjs"), "utf8");
      assert.ok(text.startsWith("import { createRequire"), "createRequire banner first");
      assert.ok(!/from ["']@pipecd-ts\//.test(text), "workspace packages are inlined");
    }
    const cp = await readFile(join(dir, "app", "control-plane", "main.mjs"), "utf8");
    assert.match(cp, /from ["']better-sqlite3["']|require\(["']better-sqlite3["']\)/);
    // As in the image: the native module beside the control-plane bundle (here a link to the
    // installed one). The piped image has none, so its bundle starts without it below.
    const req = createRequire(join(repoRoot(), "packages", "datastore", "package.json"));
    const pkgDir = dirname(realpathSync(req.resolve("better-sqlite3/package.json")));
    await mkdir(join(dir, "app", "control-plane", "node_modules"), { recursive: true });
    await symlink(pkgDir, join(dir, "app", "control-plane", "node_modules", "better-sqlite3"));
  });

  it("the control-plane bundle serves /healthz and the REST API; the piped bundle connects and reports its meta", async (t) => {
    assert.ok(existsSync(join(dir, "app", "piped", "main.mjs")), "bundles built by the test above");
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const adminKey = `${randomUUID()}.${randomBytes(32).toString("base64url")}`;
    await writeFile(join(dir, "admin-key"), adminKey, { mode: 0o600 });
    const started = Date.now();
    await startBundle(
      "control-plane",
      [
        ...controlPlaneArgs({ dataDir: join(dir, "cp-data"), httpPort, grpcPort }),
        "--bootstrap-admin-key-file",
        join(dir, "admin-key"),
        "--web-dir",
        join(dir, "no-web-ui"),
      ],
      /pipecd-server ready/,
    );
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    assert.equal(health.status, 200);
    const readyMs = Date.now() - started;
    const admin = createRestClient({
      baseUrl: `http://127.0.0.1:${httpPort}`,
      apiKey: adminKey,
      timeoutMs: 10_000,
    });
    const reg = await admin.call("registerPiped", { body: { name: "bundle-piped" } });
    await writeFile(
      join(dir, "piped.yaml"),
      pipedConfigYaml({
        pipedId: reg.id,
        key: { data: reg.key },
        apiAddress: `127.0.0.1:${grpcPort}`,
        kubeconfigPath: sim.kubeconfigPath,
        repositories: [
          {
            repoId: "apps",
            remote: "https://bot:ghp_bundleS3cret@127.0.0.1:1/org/apps.git",
            branch: "main",
          },
        ],
      }),
    );
    const piped = await startBundle(
      "piped",
      ["--config", join(dir, "piped.yaml"), "--insecure", "--work-dir", join(dir, "piped-work")],
      /piped ready/,
    );
    const p = await eventually(
      async () => {
        const got = (await admin.call("getPiped", { params: { id: reg.id } })).piped;
        return got.version ? got : undefined;
      },
      20_000,
      "piped meta reported",
    );
    assert.equal(p.version, "0.1.0");
    assert.match(String(p.status), /ONLINE/);
    // The remote's credentials reach neither the control plane nor the piped's log.
    assert.deepEqual(
      p.repositories?.map((r) => r.remote),
      ["https://127.0.0.1:1/org/apps.git"],
    );
    await eventually(
      () => Promise.resolve(/connected to the control plane/.test(piped.output())),
      10_000,
      "the piped logs that the control plane accepted it",
    );
    assert.ok(!piped.output().includes(reg.key), "the piped key is never logged");
    assert.ok(!piped.output().includes("ghp_bundleS3cret"), "the remote's token is never logged");
    t.diagnostic(`control-plane bundle ready in ${readyMs} ms`);
  });
});
