import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError, PermissionDeniedError } from "@pipecd-ts/runtime";
import { createKubeClient, loadKubeConfig } from "../src/index.js";
import { configMap, startFixture, type Fixture } from "./fixture.js";

// In-cluster loading (no kubeConfigPath/masterURL): the service-account token and CA from the
// mounted directory and KUBERNETES_SERVICE_HOST/PORT, as client-node's loadFromCluster does,
// against kube-sim with RBAC enforced for that ServiceAccount.

describe("in-cluster kube config", () => {
  let f: Fixture;
  let saDir = "";
  const env = { ...process.env };

  before(async () => {
    f = await startFixture();
    const admin = f.client();
    await admin.apply({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "piped", namespace: "default" },
    });
    await admin.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "cm-reader", namespace: "default" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
    });
    await admin.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "cm-reader", namespace: "default" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cm-reader" },
      subjects: [{ kind: "ServiceAccount", name: "piped" }],
    });
    await admin.apply(configMap("settings"));
    const tr = f.sim.auth.requestToken("default", "piped", {}) as { status: { token: string } };
    saDir = join(f.dir, "serviceaccount");
    await mkdir(saDir);
    await writeFile(join(saDir, "token"), tr.status.token);
    await writeFile(join(saDir, "ca.crt"), f.sim.caCert ?? "");
    await writeFile(join(saDir, "namespace"), "default");
    const url = new URL(f.sim.url);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    f.sim.auth.mode = "RBAC";
  });
  after(async () => {
    process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
    if (env.KUBERNETES_SERVICE_HOST === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
    if (env.KUBERNETES_SERVICE_PORT === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
    await f?.close();
  });

  it("uses the mounted token and CA and verifies the server (HTTPS, not skip-verify)", async () => {
    const kc = loadKubeConfig({ serviceAccountDir: saDir });
    assert.equal(kc.getCurrentCluster()?.server, f.sim.url);
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, false);
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, "default");
    const client = createKubeClient({ serviceAccountDir: saDir });
    const cm = await client.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "default",
      name: "settings",
    });
    assert.equal(cm?.metadata?.name, "settings");
  });

  it("requests are made as the ServiceAccount: what its Role does not grant is PermissionDenied", async () => {
    const client = createKubeClient({ serviceAccountDir: saDir, retry: { maxAttempts: 1 } });
    await assert.rejects(
      client.apply(configMap("other")),
      (err: Error) =>
        err instanceof PermissionDeniedError &&
        err.message.includes(
          'User "system:serviceaccount:default:piped" cannot patch resource "configmaps"',
        ),
    );
  });

  it("outside a cluster the error lists what is missing", async () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      assert.throws(
        () => loadKubeConfig({ serviceAccountDir: join(f.dir, "nowhere") }),
        (err: Error) =>
          err instanceof InvalidArgumentError &&
          err.message.includes("KUBERNETES_SERVICE_HOST is unset") &&
          err.message.includes(`${join(f.dir, "nowhere", "token")} is missing`),
      );
    } finally {
      process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });
});
