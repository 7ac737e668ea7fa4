import { StageStatus } from "@pipecd-ts/proto";
import type { ApplicationConfig, K8sBaselineRolloutStageOptions } from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { errorMessage, loadStageManifests } from "./apply.js";
import { rolloutVariantSet } from "./canary.js";
import type { K8sExecutorOptions } from "./sync.js";
import { BASELINE_RESOURCES_KEY, generateVariantManifests, type VariantSet } from "./variant.js";

/**
 * K8S_BASELINE_ROLLOUT (reference §4.5): from the RUNNING commit's manifests (the version now
 * serving), creates `<workload>-<suffix>` copies with the baseline variant label (replicas from
 * `replicas`, default 1) and with `createService` a `<service>-<suffix>` Service. ConfigMaps and
 * Secrets are not copied: baseline pods use the originals. Resources are annotated with the
 * running commit, their keys saved in shared metadata `baseline-resources` before the apply, and
 * the stage waits until the baseline Deployments are available. Fails on a first deployment.
 */
export class K8sBaselineRolloutExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    const cfg = input.appConfig as ApplicationConfig;
    const opts: K8sBaselineRolloutStageOptions = {
      replicas: undefined,
      suffix: cfg.variantLabel.baselineValue,
      createService: false,
      ...(input.stageConfig as Partial<K8sBaselineRolloutStageOptions> | undefined),
    };
    if (!input.runningDir || !input.runningCommit) {
      input.logger.error(
        "Unable to determine the running commit: a BASELINE needs a previous successful deployment (it seems this is the first deployment)",
      );
      return StageStatus.STAGE_FAILURE;
    }
    const manifests = await loadStageManifests(
      input.logger,
      input.runningDir,
      cfg.input,
      input.runningCommit,
    );
    if (!manifests) return StageStatus.STAGE_FAILURE;
    let set: VariantSet;
    try {
      set = generateVariantManifests(manifests, {
        variant: "baseline",
        suffix: opts.suffix || cfg.variantLabel.baselineValue,
        replicas: opts.replicas,
        variantLabel: cfg.variantLabel,
        workloads: cfg.workloads,
        copyConfigs: false,
        createService: opts.createService,
        serviceRef: cfg.service,
      });
    } catch (err) {
      input.logger.error(`Unable to generate the BASELINE manifests: ${errorMessage(err)}`);
      return StageStatus.STAGE_FAILURE;
    }
    return rolloutVariantSet(this.o, input, {
      set,
      metadataKey: BASELINE_RESOURCES_KEY,
      label: "Baseline",
      variant: "baseline",
      commit: input.runningCommit,
      replicas: opts.replicas,
    });
  }
}
