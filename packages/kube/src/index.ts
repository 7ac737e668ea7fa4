export {
  KubeClient,
  createKubeClient,
  type ApplyOptions,
  type CallOptions,
  type DeleteOutcome,
  type DeleteOwnedOptions,
  type KubeClientOptions,
  type KubeDiscovery,
  type KubeRetryOptions,
  type ListOptions,
} from "./client.js";
export { SERVICE_ACCOUNT_DIR, loadKubeConfig, type KubeConfigOptions } from "./kubeconfig.js";
export {
  DEFAULT_NAMESPACE,
  RESOURCE_KEY_ANNOTATION,
  parseResourceKey,
  resourceKey,
} from "./resource-key.js";
export { deploymentRolloutStatus, type DeploymentRolloutStatus } from "./rollout-status.js";
export type { RolloutResult, RolloutWaitOptions } from "./rollout-wait.js";
export type { ResourceInfo } from "./discovery.js";
export type { InformerHandler } from "./informer.js";
export type { KubeObject, ObjectMeta, ObjectRef, OwnerReference } from "./types.js";
