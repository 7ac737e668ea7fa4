import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { applyPatches } from "../variant/patch.js";
import { rolloutVariantSet } from "../variant/rollout.js";
import { CANARY_RESOURCES_KEY, generateVariantManifests } from "../variant/variant.js";
import { stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_CANARY_ROLLOUT">;

/**
 * K8S_CANARY_ROLLOUT (reference §4.5): from the target commit's manifests, with `patches`
 * applied, creates `<workload>-<suffix>` copies (replicas from `replicas`, default 1; the canary
 * variant label in selector and pod labels), copies of every ConfigMap and Secret the canary pods
 * use instead of the originals, and with `createService` a `<service>-<suffix>` Service. The keys
 * go to shared metadata `canary-resources` before anything is applied; the stage then waits
 * until the canary Deployments are available (fails on ProgressDeadlineExceeded or timeout).
 * Server-side apply makes a re-run converge on the same objects.
 */
export class K8sCanaryRolloutExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    const cfg = input.appConfig;
    const opts = input.stageConfig;
    const manifests = await stageManifests(this.o, input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    return rolloutVariantSet(this.o, input, {
      build: () => {
        let source = manifests;
        if (opts.patches.length) {
          source = applyPatches(manifests, opts.patches);
          input.logger.info(
            `Patched ${opts.patches.map((p) => `${p.target.kind} ${p.target.name}`).join(", ")} for the canary`,
          );
        }
        return generateVariantManifests(source, {
          variant: "canary",
          suffix: opts.suffix,
          replicas: opts.replicas,
          variantLabel: cfg.variantLabel,
          workloads: cfg.workloads,
          copyConfigs: true,
          createService: opts.createService,
          serviceRef: cfg.service,
        });
      },
      metadataKey: CANARY_RESOURCES_KEY,
      label: "Canary",
      variant: "canary",
      commit: input.targetCommit,
      replicas: opts.replicas,
    });
  }
}
