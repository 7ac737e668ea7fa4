export {
  Annotation,
  addBuiltinAnnotations,
  addConfigHash,
  deploymentImages,
  loadManifests,
  manifestKey,
  referencedConfigs,
  type K8sObject,
  type Manifest,
} from "./manifest.js";
export {
  KubernetesPlanner,
  decideStrategy,
  pipelineStages,
  quickSyncStages,
  type KubernetesPlannerInput,
} from "./planner.js";
export { applyAll, deleteKeys, errorMessage, waitForWorkloads, type KubeApi } from "./apply.js";
export { K8sSyncExecutor, type K8sExecutorOptions } from "./sync.js";
export { RollbackExecutor, VARIANT_RESOURCE_KEYS } from "./rollback.js";
