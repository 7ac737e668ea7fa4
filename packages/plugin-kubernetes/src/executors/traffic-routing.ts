import { StageStatus } from "@pipecd-ts/proto";
import { trafficPercentages } from "@pipecd-ts/config";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { routerFor } from "../traffic/routers.js";
import { safetyOf, stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_TRAFFIC_ROUTING">;

/** Stage metadata keys holding the split a K8S_TRAFFIC_ROUTING stage applied (PipeCD's names). */
export const TrafficMetadataKey = {
  PRIMARY: "primary-percentage",
  CANARY: "canary-percentage",
  BASELINE: "baseline-percentage",
} as const;

/**
 * K8S_TRAFFIC_ROUTING (PipeCD §4.5): records the requested split as stage metadata, then lets
 * the configured method's {@link TrafficRouter} shape and apply the routing manifest of the
 * target commit (the VirtualService for istio, the Service for podselector) as primary.
 */
export class K8sTrafficRoutingExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    const cfg = input.appConfig;
    const pc = trafficPercentages(input.stageConfig);
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
    const manifests = await stageManifests(this.o, input);
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
      safety: safetyOf(this.o, input),
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
