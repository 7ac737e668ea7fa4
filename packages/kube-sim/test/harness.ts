import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { request } from "node:https";
import { join } from "node:path";
import { ensureK8sTools, runCommand } from "@pipecd-ts/testkit";
export { eventually } from "@pipecd-ts/testkit";
import { startKubeSim, type KubeSim } from "../src/index.js";

/** A kube-sim started for a test, with a real kubectl pointed at it. */
export interface SimFixture {
  sim: KubeSim;
  dir: string;
  /** Runs real kubectl against the sim; never rejects on a non-zero exit. */
  kubectl(
    args: string[],
    opts?: { input?: string; timeoutMs?: number },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes a file in the fixture's temp dir and returns its path. */
  file(name: string, content: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts kube-sim in-process over HTTPS on a free port. */
export async function startSim(
  opts: { readyDelayMs?: number; bookmarkIntervalMs?: number; watchHistory?: number } = {},
): Promise<SimFixture> {
  const dir = await mkdtemp(join(tmpdir(), "kube-sim-test-"));
  const sim = await startKubeSim({
    port: 0,
    kubeconfigPath: join(dir, "kubeconfig"),
    readyDelayMs: opts.readyDelayMs ?? 100,
    bookmarkIntervalMs: opts.bookmarkIntervalMs,
    watchHistory: opts.watchHistory,
  });
  const tools = await ensureK8sTools();
  return {
    sim,
    dir,
    kubectl: (args, o = {}) =>
      runCommand(
        tools.kubectl,
        ["--kubeconfig", sim.kubeconfigPath, "--cache-dir", join(dir, "cache"), ...args],
        {
          timeoutMs: o.timeoutMs ?? 60_000,
          input: o.input,
        },
      ),
    async file(name, content) {
      const p = join(dir, name);
      await writeFile(p, content);
      return p;
    },
    async close() {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Path of the real Istio CRDs (the project keeps a verbatim copy in deploy/examples). */
export const ISTIO_CRDS = new URL("../../../deploy/examples/istio-crds.yaml", import.meta.url)
  .pathname;

/** The manifests the kubectl tests apply: a Deployment, Service, VirtualService, DestinationRule, Gateway. */
export function appManifests(image = "nginx:1.25", replicas = 2): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app: web }
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: ${image}
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: prod
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: [web.example.com]
  gateways: [web-gateway]
  http:
    - name: primary
      route:
        - destination:
            host: web
            subset: primary
            port: { number: 80 }
          weight: 100
        - destination:
            host: web
            subset: canary
            port: { number: 80 }
          weight: 0
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: web
spec:
  host: web
  subsets:
    - name: primary
      labels: { pipecd.dev/variant: primary }
    - name: canary
      labels: { pipecd.dev/variant: canary }
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: web-gateway
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [web.example.com]
`;
}

/** A reply of {@link call}. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

/** A raw HTTPS call to the sim (trusting its CA), for wire-level assertions. */
export function call(
  f: SimFixture,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Reply> {
  const url = new URL(path, f.sim.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: f.sim.caCert,
        headers: {
          ...(opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? f.sim.token}` }),
          ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
          ...opts.headers,
        },
        timeout: 10_000,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(
      opts.body === undefined
        ? undefined
        : typeof opts.body === "string"
          ? opts.body
          : JSON.stringify(opts.body),
    );
  });
}
