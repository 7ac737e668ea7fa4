import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { rolloutVariantSet } from "../variant/rollout.js";
import { BASELINE_RESOURCES_KEY, generateVariantManifests } from "../variant/variant.js";
import { stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_BASELINE_ROLLOUT">;

/**
 * K8S_BASELINE_ROLLOUT (reference §4.5): from the RUNNING commit's manifests (the version now
 * serving), creates `<workload>-<suffix>` copies with the baseline variant label (replicas from
 * `replicas`, default 1) and with `createService` a `<service>-<suffix>` Service. ConfigMaps and
 * Secrets are not copied: baseline pods use the originals. Resources are annotated with the
 * running commit, their keys saved in shared metadata `baseline-resources` before the apply, and
 * the stage waits until the baseline Deployments are available. Fails on a first deployment.
 */
export class K8sBaselineRolloutExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    const cfg = input.appConfig;
    const opts = input.stageConfig;
    if (!input.runningDir || !input.runningCommit) {
      input.logger.error(
        "Unable to determine the running commit: a BASELINE needs a previous successful deployment (it seems this is the first deployment)",
      );
      return StageStatus.STAGE_FAILURE;
    }
    const manifests = await stageManifests(this.o, input, "running");
    if (!manifests) return StageStatus.STAGE_FAILURE;
    return rolloutVariantSet(this.o, input, {
      build: () =>
        generateVariantManifests(manifests, {
          variant: "baseline",
          suffix: opts.suffix,
          replicas: opts.replicas,
          variantLabel: cfg.variantLabel,
          workloads: cfg.workloads,
          copyConfigs: false,
          createService: opts.createService,
          serviceRef: cfg.service,
        }),
      metadataKey: BASELINE_RESOURCES_KEY,
      label: "Baseline",
      variant: "baseline",
      commit: input.runningCommit,
      replicas: opts.replicas,
    });
  }
}
