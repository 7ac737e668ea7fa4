// Benchmark (not a test): GET and server-side-apply requests/s through @kubernetes/client-node
// 1.4.0 against an in-process kube-sim over HTTPS.
// Usage: node --import tsx test/bench/kube-sim.bench.ts [--seconds 5] [--concurrency 16]
import { mkdtemp, rm } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { startKubeSim } from "@pipecd-ts/kube-sim";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

const dir = await mkdtemp(join(tmpdir(), "kube-sim-bench-"));
const sim = await startKubeSim({
  port: 0,
  kubeconfigPath: join(dir, "kubeconfig"),
  readyDelayMs: 50,
});
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(sim.kubeconfigPath);
  const obj = k8s.KubernetesObjectApi.makeApiClient(kc);
  const deployment = (i: number, image: string): k8s.KubernetesObject & { spec: unknown } => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `bench-${i}`, namespace: "default", labels: { app: `bench-${i}` } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: `bench-${i}` } },
      template: {
        metadata: { labels: { app: `bench-${i}` } },
        spec: { containers: [{ name: "c", image, env: [{ name: "A", value: "1" }] }] },
      },
    },
  });
  for (let i = 0; i < CONCURRENCY; i++)
    await obj.patch(
      deployment(i, "img:0"),
      undefined,
      undefined,
      "bench",
      true,
      k8s.PatchStrategy.ServerSideApply,
    );

  const measure = async (
    label: string,
    op: (worker: number, n: number) => Promise<unknown>,
  ): Promise<void> => {
    let done = 0;
    const deadline = Date.now() + SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        for (let n = 0; Date.now() < deadline; n++) {
          await op(w, n);
          done++;
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    console.log(
      `${label}: ${(done / s).toFixed(0)} requests/s (${done} in ${s.toFixed(1)} s, ${CONCURRENCY} concurrent)`,
    );
  };
  await measure("GET deployment", (w) =>
    obj.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: `bench-${w}`, namespace: "default" },
    }),
  );
  // Each apply changes the image, so every request is a real write (and a controller rollout).
  await measure("server-side apply deployment", (w, n) =>
    obj.patch(
      deployment(w, `img:${n + 1}`),
      undefined,
      undefined,
      "bench",
      true,
      k8s.PatchStrategy.ServerSideApply,
    ),
  );
  await measure("server-side apply configmap", (w, n) =>
    obj.patch(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${w}`, namespace: "default" },
        data: { n: String(n) },
      } as k8s.KubernetesObject,
      undefined,
      undefined,
      "bench",
      true,
      k8s.PatchStrategy.ServerSideApply,
    ),
  );

  // The same requests over one keep-alive HTTPS agent: the server's own capacity. (client-node
  // 1.4.0 opens a new TLS connection per request, which dominates the figures above.)
  const agent = new https.Agent({ keepAlive: true, ca: sim.caCert, maxSockets: CONCURRENCY });
  const raw = (
    method: string,
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        `${sim.url}${path}`,
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${sim.token}`,
            ...(contentType ? { "content-type": contentType } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  await measure("GET deployment (keep-alive HTTPS)", (w) =>
    raw("GET", `/apis/apps/v1/namespaces/default/deployments/bench-${w}`),
  );
  await measure("server-side apply configmap (keep-alive HTTPS)", (w, n) =>
    raw(
      "PATCH",
      `/api/v1/namespaces/default/configmaps/cm-${w}?fieldManager=bench&force=true`,
      JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${w}` },
        data: { n: String(n) },
      }),
      "application/apply-patch+yaml",
    ),
  );
  agent.destroy();
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
