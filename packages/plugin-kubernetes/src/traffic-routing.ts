import { StageStatus } from "@pipecd-ts/proto";
import {
  trafficPercentages,
  type ApplicationConfig,
  type K8sTrafficRoutingStageOptions,
  type TrafficRoutingMethod,
} from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { loadStageManifests } from "./apply.js";
import { safetyOf, type K8sExecutorOptions } from "./sync.js";
import { IstioTrafficRouter } from "./traffic/istio.js";
import { PodSelectorTrafficRouter } from "./traffic/podselector.js";
import type { TrafficRouter } from "./traffic/router.js";

/** Stage metadata keys holding the split a K8S_TRAFFIC_ROUTING stage applied (PipeCD's names). */
export const TrafficMetadataKey = {
  PRIMARY: "primary-percentage",
  CANARY: "canary-percentage",
  BASELINE: "baseline-percentage",
} as const;

/** The router of a method; undefined for methods we (like PipeCD v0) do not support. */
function routerFor(method: TrafficRoutingMethod): TrafficRouter | undefined {
  switch (method) {
    case "istio":
      return new IstioTrafficRouter();
    case "podselector":
      return new PodSelectorTrafficRouter();
    case "smi":
      return undefined;
  }
}

/**
 * K8S_TRAFFIC_ROUTING (PipeCD §4.5): records the requested split as stage metadata, then lets
 * the configured method's {@link TrafficRouter} shape and apply the routing manifest of the
 * target commit (the VirtualService for istio, the Service for podselector) as primary.
 */
export class K8sTrafficRoutingExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    const cfg = input.appConfig as ApplicationConfig;
    const opts = (input.stageConfig ?? {}) as Partial<K8sTrafficRoutingStageOptions>;
    const pc = trafficPercentages({
      all: opts.all,
      primary: opts.primary,
      canary: opts.canary,
      baseline: opts.baseline,
    });
    await input.metadata.stage(input.stage.id).put({
      [TrafficMetadataKey.PRIMARY]: String(pc.primary),
      [TrafficMetadataKey.CANARY]: String(pc.canary),
      [TrafficMetadataKey.BASELINE]: String(pc.baseline),
    });
    const method = cfg.trafficRouting.method;
    const router = routerFor(method);
    if (!router) {
      input.logger.error(`unsupported traffic routing method ${method}`);
      return StageStatus.STAGE_FAILURE;
    }
    const manifests = await loadStageManifests(input.logger, input.targetDir, cfg.input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    input.logger.info(
      `Routing traffic with ${method}: primary ${pc.primary}%, canary ${pc.canary}%, ` +
        `baseline ${pc.baseline}%`,
    );
    const res = await router.route({
      manifests,
      percentages: pc,
      config: cfg,
      kube: this.o.kube,
      signal: input.signal,
      logger: input.logger,
      pipedId: input.pipedId,
      applicationId: input.deployment.applicationId,
      commit: input.targetCommit,
      safety: safetyOf(this.o, cfg),
    });
    if (!res.ok) {
      if (!input.signal.aborted) input.logger.error(`Traffic routing failed: ${res.reason}`);
      return StageStatus.STAGE_FAILURE;
    }
    input.logger.success(
      `Routed traffic: primary ${pc.primary}%, canary ${pc.canary}%, baseline ${pc.baseline}%`,
    );
    return StageStatus.STAGE_SUCCESS;
  }
}
