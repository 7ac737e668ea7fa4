import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKubeSim, type KubeSim } from "@pipecd-ts/kube-sim";
import { parseAllDocuments } from "yaml";
import {
  createKubeClient,
  type KubeClient,
  type KubeClientOptions,
  type KubeObject,
} from "../src/index.js";

/** A kube-sim (HTTPS, in-process) plus clients pointed at it. */
export interface Fixture {
  sim: KubeSim;
  dir: string;
  /** A client for the sim; fast retries by default so failure tests stay short. */
  client(opts?: Omit<KubeClientOptions, "kubeConfigPath">): KubeClient;
  /** Writes a file in the fixture's temp dir and returns its path. */
  file(name: string, content: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts kube-sim on a free port with pods Ready after 100 ms. */
export async function startFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "kube-test-"));
  const sim = await startKubeSim({
    port: 0,
    kubeconfigPath: join(dir, "kubeconfig"),
    readyDelayMs: 100,
  });
  return {
    sim,
    dir,
    client: (opts = {}) =>
      createKubeClient({
        kubeConfigPath: sim.kubeconfigPath,
        ...opts,
        retry: { initialDelayMs: 20, maxDelayMs: 200, ...opts.retry },
      }),
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

/** The Istio CRDs the project keeps verbatim (deploy/examples/istio-crds.yaml). */
export async function istioCrds(): Promise<KubeObject[]> {
  const path = new URL("../../../deploy/examples/istio-crds.yaml", import.meta.url).pathname;
  return parseAllDocuments(await readFile(path, "utf8"))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => !!d);
}

/** A Deployment manifest; `neverReady` makes kube-sim keep its pods unready. */
export function deployment(
  name: string,
  opts: {
    replicas?: number;
    image?: string;
    neverReady?: boolean;
    progressDeadlineSeconds?: number;
    annotations?: Record<string, string>;
  } = {},
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", labels: { app: name }, annotations: opts.annotations },
    spec: {
      replicas: opts.replicas ?? 2,
      ...(opts.progressDeadlineSeconds !== undefined
        ? { progressDeadlineSeconds: opts.progressDeadlineSeconds }
        : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          ...(opts.neverReady
            ? { annotations: { "kube-sim.pipecd.dev/never-ready": "true" } }
            : {}),
        },
        spec: { containers: [{ name: "web", image: opts.image ?? "nginx:1.25" }] },
      },
    },
  };
}

/** A ConfigMap manifest. */
export function configMap(
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default", labels, annotations },
    data: { k: "v" },
  };
}

/** Milliseconds `fn` took, with its result or error. */
export async function timed<T>(
  fn: () => Promise<T>,
): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}
