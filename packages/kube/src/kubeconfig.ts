import { existsSync, readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Where {@link loadKubeConfig} finds the cluster (the platform provider's `kubeConfigPath`/`masterURL`). */
export interface KubeConfigOptions {
  /** A kubeconfig file; its current context is used. */
  kubeConfigPath?: string;
  /** Overrides the API server URL of the kubeconfig (or, alone, names a server with no credentials). */
  masterURL?: string;
  /**
   * In-cluster only: where the pod's service-account `token`, `ca.crt` and `namespace` are
   * mounted. Default {@link SERVICE_ACCOUNT_DIR}.
   */
  serviceAccountDir?: string;
}

/** Where Kubernetes mounts the service-account token, CA and namespace into every pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Loads cluster access like client-go's `BuildConfigFromFlags(masterURL, kubeconfigPath)`: the
 * file when given, else `masterURL` alone, else the in-cluster service account. Throws
 * InvalidArgument naming the path when the file cannot be used.
 */
export function loadKubeConfig(opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const { kubeConfigPath, masterURL } = opts;
  if (kubeConfigPath) {
    try {
      kc.loadFromFile(kubeConfigPath);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new InvalidArgumentError(`cannot load kubeconfig ${kubeConfigPath}: ${why}`, {
        cause: err,
      });
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster)
      throw new InvalidArgumentError(
        `kubeconfig ${kubeConfigPath} has no cluster for its current context ${JSON.stringify(kc.getCurrentContext())}`,
      );
    if (masterURL)
      kc.clusters = kc.clusters.map((c) =>
        c.name === cluster.name ? { ...c, server: masterURL } : c,
      );
    return kc;
  }
  if (masterURL) {
    kc.loadFromClusterAndUser(
      { name: "master", server: masterURL, skipTLSVerify: false },
      { name: "anonymous" },
    );
    return kc;
  }
  return loadInCluster(kc, opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
}

/**
 * In-cluster access as client-node's `loadFromCluster` (and client-go's `InClusterConfig`):
 * `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the mounted CA, and the mounted
 * token, re-read by client-node's tokenFile provider so rotated (projected) tokens are picked up.
 */
function loadInCluster(kc: KubeConfig, dir: string): KubeConfig {
  // Only this loader looks at the environment (STYLE §11).
  const host = process.env.KUBERNETES_SERVICE_HOST ?? "";
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "";
  const tokenFile = join(dir, "token");
  const caFile = join(dir, "ca.crt");
  const missing = [
    ...(host ? [] : ["KUBERNETES_SERVICE_HOST is unset"]),
    ...(port ? [] : ["KUBERNETES_SERVICE_PORT is unset"]),
    ...(existsSync(tokenFile) ? [] : [`${tokenFile} is missing`]),
    ...(existsSync(caFile) ? [] : [`${caFile} is missing`]),
  ];
  if (missing.length > 0)
    throw new InvalidArgumentError(
      `no kubeConfigPath or masterURL given and not running in a cluster: ${missing.join(", ")}`,
    );
  if (!/^\d{1,5}$/.test(port))
    throw new InvalidArgumentError(
      `KUBERNETES_SERVICE_PORT is not a port: ${JSON.stringify(port)}`,
    );
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const nsFile = join(dir, "namespace");
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, "utf8").trim() : undefined;
  kc.loadFromOptions({
    clusters: [{ name: "in-cluster", server, caFile, skipTLSVerify: false }],
    users: [{ name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile } } }],
    contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster", namespace }],
    currentContext: "in-cluster",
  });
  return kc;
}
