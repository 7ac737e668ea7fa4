import { readFile } from "node:fs/promises";
import * as k8s from "@kubernetes/client-node";
import { startStack, type Stack, type StackOptions } from "@pipecd-ts/testkit";
import { parseAllDocuments } from "yaml";

// The seed's app (PipeCD examples v0/kubernetes/mesh-istio-canary), shared by the e2e suites.

/** The destination host of the seed app. */
export const HOST = "canary-app.default.svc.cluster.local";

/** The seed app's files under `canary-app/` with `image` (plus `extra` files). */
export const files = (
  image: string,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  "canary-app/app.pipecd.yaml": `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: canary-app
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: { replicas: 50% }
      - name: K8S_TRAFFIC_ROUTING
        with: { primary: 90, canary: 10 }
      - name: WAIT_APPROVAL
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with: { primary: 100 }
      - name: K8S_CANARY_CLEAN
  trafficRouting:
    method: istio
    istio:
      host: ${HOST}
`,
  "canary-app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: canary-app
  labels: { app: canary-app }
spec:
  replicas: 2
  selector:
    matchLabels: { app: canary-app, pipecd.dev/variant: primary }
  template:
    metadata:
      labels: { app: canary-app, pipecd.dev/variant: primary }
      annotations: { sidecar.istio.io/inject: "true" }
    spec:
      containers:
        - name: helloworld
          image: ghcr.io/pipe-cd/helloworld:${image}
          args: [server]
          ports: [{ containerPort: 9085 }]
`,
  "canary-app/service.yaml": `apiVersion: v1
kind: Service
metadata: { name: canary-app }
spec:
  selector: { app: canary-app }
  ports: [{ name: http-admin, port: 9085, targetPort: 9085, protocol: TCP }]
`,
  "canary-app/gateway.yaml": `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: canary-app }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [canary-app.pipecd.dev]
`,
  "canary-app/destination-rule.yaml": `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: canary-app }
spec:
  host: ${HOST}
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }
  subsets:
    - name: primary
      labels: { pipecd.dev/variant: primary }
    - name: canary
      labels: { pipecd.dev/variant: canary }
    - name: baseline
      labels: { pipecd.dev/variant: baseline }
`,
  "canary-app/virtual-service.yaml": `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: canary-app }
spec:
  hosts: [canary-app.pipecd.dev]
  gateways: [canary-app]
  http:
    - route:
        - destination: { host: ${HOST}, subset: primary, port: { number: 9085 } }
          weight: 100
`,
  ...extra,
});

/** One destination of a VirtualService HTTP route. */
export type Route = {
  destination: { host: string; subset?: string; port?: { number: number } };
  weight?: number;
};

/** Applies the real Istio CRDs (the project's copy) with server-side apply. */
export async function applyIstioCrds(kc: k8s.KubeConfig): Promise<void> {
  const obj = k8s.KubernetesObjectApi.makeApiClient(kc);
  const text = await readFile(
    new URL("../../deploy/examples/istio-crds.yaml", import.meta.url),
    "utf8",
  );
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as k8s.KubernetesObject | null;
    if (o)
      await obj.patch(o, undefined, undefined, "test", true, k8s.PatchStrategy.ServerSideApply);
  }
}

/** The destinations of the seed VirtualService's first HTTP route, as live in the cluster. */
export async function vsRoutes(kc: k8s.KubeConfig): Promise<Route[]> {
  const vs = (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
    group: "networking.istio.io",
    version: "v1beta1",
    namespace: "default",
    plural: "virtualservices",
    name: "canary-app",
  })) as { spec: { http: { route: Route[] }[] } };
  return vs.spec.http[0]?.route ?? [];
}

/**
 * A stack with the Istio CRDs applied, a piped running and the seed app registered and
 * quick-synced (its first deployment) at `version`.
 */
export async function startSeedStack(
  opts: StackOptions,
  version: string,
): Promise<{ s: Stack; kc: k8s.KubeConfig; appId: string }> {
  const s = await startStack(opts);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(s.sim.kubeconfigPath);
  await applyIstioCrds(kc);
  await s.startPiped();
  await s.repo.commit(files(version), `canary-app ${version}`);
  const appId = await s.addApp("canary-app", "canary-app");
  await s.waitDeployment(
    appId,
    (x) => x.status === "DEPLOYMENT_SUCCESS",
    60_000,
    "first quick sync",
  );
  return { s, kc, appId };
}
