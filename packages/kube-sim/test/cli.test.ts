import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { ensureK8sTools, repoRoot, runCommand } from "@pipecd-ts/testkit";

/** Starts bin/kube-sim as a separate process and waits for its ready line. */
async function launch(
  args: string[],
): Promise<{ url: string; kubeconfig: string; stop(): Promise<number | null> }> {
  const child = spawn(join(repoRoot(), "bin/kube-sim"), args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 30 s: ${out}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /^kube-sim ready (\S+) kubeconfig=(\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kube-sim exited ${code}: ${out}`));
    });
  });
  return {
    url: ready[1] ?? "",
    kubeconfig: ready[2] ?? "",
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners("exit");
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}

describe("bin/kube-sim", () => {
  it("serves HTTPS, writes a working kubeconfig, prints its ready line and exits 0 on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-sim-cli-"));
    try {
      const sim = await launch([
        "--port",
        "0",
        "--kubeconfig",
        join(dir, "kubeconfig"),
        "--ready-delay",
        "50",
      ]);
      assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const kc = await readFile(sim.kubeconfig, "utf8");
      assert.match(kc, /certificate-authority-data: /);
      assert.match(kc, /current-context: kube-sim/);
      assert.match(kc, /namespace: default/);
      const { kubectl } = await ensureK8sTools();
      const ns = await runCommand(kubectl, [
        "--kubeconfig",
        sim.kubeconfig,
        "--cache-dir",
        join(dir, "cache"),
        "get",
        "ns",
        "-o",
        "name",
      ]);
      assert.equal(ns.code, 0, ns.stderr);
      assert.match(ns.stdout, /namespace\/default/);
      assert.match(ns.stdout, /namespace\/kube-system/);
      assert.equal(await sim.stop(), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--plain-http writes an insecure kubeconfig that client-node accepts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-sim-cli-"));
    try {
      const sim = await launch([
        "--port",
        "0",
        "--kubeconfig",
        join(dir, "kubeconfig"),
        "--plain-http",
      ]);
      assert.match(sim.url, /^http:\/\//);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(sim.kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const list = await core.listNamespace();
      assert.ok(list.items.some((n) => n.metadata?.name === "default"));
      assert.equal(await sim.stop(), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad flags with a clear message", async () => {
    const r = await runCommand(join(repoRoot(), "bin/kube-sim"), [
      "--port",
      "nope",
      "--kubeconfig",
      "/tmp/x",
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--port: not a port: nope/);
    const missing = await runCommand(join(repoRoot(), "bin/kube-sim"), []);
    assert.match(missing.stderr, /--kubeconfig PATH is required/);
  });

  it("--authorization-mode RBAC starts with RBAC enforced; other modes are refused", async () => {
    const bad = await runCommand(join(repoRoot(), "bin/kube-sim"), [
      "--kubeconfig",
      "/tmp/x",
      "--authorization-mode",
      "Webhook",
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--authorization-mode: must be AlwaysAllow or RBAC, got Webhook/);
    const dir = await mkdtemp(join(tmpdir(), "kube-sim-cli-"));
    try {
      const sim = await launch([
        "--port",
        "0",
        "--kubeconfig",
        join(dir, "kubeconfig"),
        "--authorization-mode",
        "RBAC",
      ]);
      const { kubectl } = await ensureK8sTools();
      const k = (args: string[]) =>
        runCommand(
          kubectl,
          ["--kubeconfig", sim.kubeconfig, "--cache-dir", join(dir, "c"), ...args],
          {
            input:
              "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: ci, namespace: default }\n",
          },
        );
      assert.equal((await k(["apply", "-f", "-"])).code, 0);
      const token = (await k(["create", "token", "ci"])).stdout.trim();
      const denied = await k(["--token", token, "get", "pods"]);
      assert.match(
        denied.stderr,
        /pods is forbidden: User "system:serviceaccount:default:ci" cannot list resource "pods"/,
      );
      assert.equal((await k(["get", "pods"])).code, 0, "the admin token bypasses RBAC");
      assert.equal(await sim.stop(), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
