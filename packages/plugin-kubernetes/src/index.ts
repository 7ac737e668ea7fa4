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
export { K8sSyncExecutor, awaitRollout, safetyOf, type K8sExecutorOptions } from "./sync.js";
export { RollbackExecutor, VARIANT_RESOURCE_KEYS } from "./rollback.js";
export { K8sTrafficRoutingExecutor, TrafficMetadataKey } from "./traffic-routing.js";
export type { TrafficRouter, RouteInput, RouteResult } from "./traffic/router.js";
export {
  IstioTrafficRouter,
  computeVirtualServiceRoutes,
  validateRewrittenRoutes,
  firstWeightMismatch,
  isVirtualService,
  type VirtualServiceRouteOptions,
  type ComputedVirtualService,
} from "./traffic/istio.js";
export { PodSelectorTrafficRouter } from "./traffic/podselector.js";
export {
  BASELINE_RESOURCES_KEY,
  CANARY_RESOURCES_KEY,
  WORKLOAD_KINDS,
  applyPatches,
  checkVariantSelector,
  cloneManifest,
  ensurePrimaryLabel,
  findServices,
  findWorkloads,
  generatePrimaryService,
  generateVariantManifests,
  parsePatchPath,
  rewriteConfigReferences,
  suffixedName,
  variantService,
  variantValue,
  type VariantOptions,
  type VariantSet,
  type VariantWorkload,
} from "./variant.js";
export { K8sCanaryRolloutExecutor, describeVariantWorkload, rolloutVariantSet } from "./canary.js";
export { K8sBaselineRolloutExecutor } from "./baseline.js";
export { K8sBaselineCleanExecutor, K8sCanaryCleanExecutor } from "./clean.js";
export { K8sPrimaryRolloutExecutor, primaryExcludedVirtualService } from "./primary.js";
