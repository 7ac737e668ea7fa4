export {
  Annotation,
  isNamespaced,
  manifestKey,
  type K8sObject,
  type Manifest,
} from "./manifest/manifest.js";
export {
  addBuiltinAnnotations,
  addConfigHash,
  deploymentImages,
  referencedConfigs,
} from "./manifest/manifest.js";
export { insideDir } from "./manifest/paths.js";
export { parseManifests } from "./manifest/parse.js";
export { PlainRenderer } from "./manifest/plain.js";
export { HelmRenderer, helmTemplateArgs } from "./manifest/helm.js";
export { KustomizeRenderer, hasKustomization, kustomizeBuildArgs } from "./manifest/kustomize.js";
export { Toolbox, type ToolboxOptions } from "./manifest/tools.js";
export type { RenderMethod, RenderRequest, RenderedText, Renderer } from "./manifest/render.js";
export {
  ManifestSource,
  renderMethodOf,
  type AppCheckout,
  type ManifestSourceOptions,
  type RenderEvent,
} from "./manifest/source.js";
export {
  KubernetesPlanner,
  decideStrategy,
  pipelineStages,
  quickSyncStages,
  type KubernetesPlannerInput,
} from "./planner.js";
export {
  applyVariant,
  deleteKeys,
  errorMessage,
  variantValue,
  waitForWorkloads,
  type KubeApi,
} from "./apply.js";
export { awaitRollout, safetyOf, type K8sExecutorOptions } from "./executors/context.js";
export { K8sSyncExecutor } from "./executors/sync.js";
export { RollbackExecutor } from "./executors/rollback.js";
export { K8sTrafficRoutingExecutor, TrafficMetadataKey } from "./executors/traffic-routing.js";
export { K8sCanaryRolloutExecutor } from "./executors/canary-rollout.js";
export { K8sBaselineRolloutExecutor } from "./executors/baseline-rollout.js";
export { K8sCanaryCleanExecutor } from "./executors/canary-clean.js";
export { K8sBaselineCleanExecutor } from "./executors/baseline-clean.js";
export { K8sPrimaryRolloutExecutor } from "./executors/primary-rollout.js";
export type { TrafficRouter, RouteInput, RouteResult } from "./traffic/router.js";
export { routerFor } from "./traffic/routers.js";
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
  VARIANT_RESOURCE_KEYS,
  WORKLOAD_KINDS,
  checkVariantSelector,
  cloneManifest,
  ensurePrimaryLabel,
  findServices,
  findWorkloads,
  generatePrimaryService,
  generateVariantManifests,
  rewriteConfigReferences,
  suffixedName,
  variantService,
  type VariantOptions,
  type VariantSet,
  type VariantWorkload,
} from "./variant/variant.js";
export { applyPatches, parsePatchPath } from "./variant/patch.js";
export { describeVariantWorkload, rolloutVariantSet } from "./variant/rollout.js";
export {
  diffLiveAndGit,
  diffManifestLists,
  renderDiffList,
  diffObjects,
  hashSecretData,
  parseIgnoreField,
  renderDrift,
  type DiffNode,
  type DriftResult,
  type ManifestChange,
} from "./drift/diff.js";
export {
  aggregateHealth,
  resourceHealth,
  type Health,
  type HealthStatus,
} from "./livestate/health.js";
