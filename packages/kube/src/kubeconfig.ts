import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** Where {@link loadKubeConfig} finds the cluster (the platform provider's `kubeConfigPath`/`masterURL`). */
export interface KubeConfigOptions {
  /** A kubeconfig file; its current context is used. */
  kubeConfigPath?: string;
  /** Overrides the API server URL of the kubeconfig (or, alone, names a server with no credentials). */
  masterURL?: string;
}

/** The service-account token mounted into every pod (what `loadFromCluster` reads). */
const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

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
  // Only this loader looks at the environment (STYLE §11).
  if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(IN_CLUSTER_TOKEN))
    throw new InvalidArgumentError(
      `no kubeConfigPath or masterURL given and not running in a cluster (KUBERNETES_SERVICE_HOST unset or ${IN_CLUSTER_TOKEN} missing)`,
    );
  kc.loadFromCluster();
  return kc;
}
