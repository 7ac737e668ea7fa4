import { StageStatus } from "@pipecd-ts/proto";
import type {
  ApplicationConfig,
  K8sCanaryRolloutStageOptions,
  ReplicasSpec,
} from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { applyAll, errorMessage, loadStageManifests } from "./apply.js";
import { awaitRollout, type K8sExecutorOptions } from "./sync.js";
import {
  CANARY_RESOURCES_KEY,
  applyPatches,
  generateVariantManifests,
  variantValue,
  type VariantSet,
  type VariantWorkload,
} from "./variant.js";

/** `Canary Deployment web-canary: 1 replica (50% of 2)`. */
export function describeVariantWorkload(
  label: string,
  w: VariantWorkload,
  spec: ReplicasSpec | undefined,
): string {
  const n = `${w.replicas} replica${w.replicas === 1 ? "" : "s"}`;
  let why: string;
  if (w.sourceReplicas === undefined) why = `${w.sourceName} has no spec.replicas`;
  else if (spec === undefined || spec.value === 0) why = "default";
  else if (spec.kind === "percent") why = `${spec.value}% of ${w.sourceReplicas}`;
  else why = "";
  return `${label} ${w.manifest.obj.kind} ${w.manifest.obj.metadata.name}: ${n}${why ? ` (${why})` : ""}`;
}

/**
 * The second half of K8S_CANARY_ROLLOUT and K8S_BASELINE_ROLLOUT: records the keys of every
 * generated resource in shared metadata (before applying, so clean and rollback find them even
 * if the apply fails part-way), applies them with the builtin annotations of the variant and
 * `commit`, then waits until the variant Deployments are rolled out and available.
 */
export async function rolloutVariantSet(
  o: K8sExecutorOptions,
  input: StageInput,
  a: {
    set: VariantSet;
    metadataKey: string;
    /** "Canary" / "Baseline", for the log. */
    label: string;
    variant: "canary" | "baseline";
    commit: string;
    replicas: ReplicasSpec | undefined;
  },
): Promise<StageStatus> {
  const cfg = input.appConfig as ApplicationConfig;
  const keys = a.set.manifests.map((m) => m.key);
  try {
    await input.metadata.shared.put({ [a.metadataKey]: keys.join(",") });
  } catch (err) {
    if (input.signal.aborted) return StageStatus.STAGE_FAILURE;
    input.logger.error(
      `Failed to save the ${a.label.toUpperCase()} resources in the deployment metadata: ${errorMessage(err)}`,
    );
    return StageStatus.STAGE_FAILURE;
  }
  for (const w of a.set.workloads)
    input.logger.info(describeVariantWorkload(a.label, w, a.replicas));
  input.logger.info(
    `Applying ${keys.length} ${a.label.toUpperCase()} resources of commit ${a.commit.slice(0, 8)}`,
  );
  const common = { signal: input.signal, logger: input.logger };
  if (
    !(await applyAll(o.kube, a.set.manifests, {
      ...common,
      pipedId: input.pipedId,
      applicationId: input.deployment.applicationId,
      commit: a.commit,
      variantKey: cfg.variantLabel.key,
      variant: variantValue(cfg.variantLabel, a.variant),
    }))
  )
    return StageStatus.STAGE_FAILURE;
  if (!(await awaitRollout(o, input, a.set.manifests))) return StageStatus.STAGE_FAILURE;
  input.logger.success(
    `Successfully rolled out the ${a.label.toUpperCase()} variant: ${a.set.workloads
      .map((w) => `${w.manifest.obj.metadata.name} (${w.replicas})`)
      .join(", ")}`,
  );
  return StageStatus.STAGE_SUCCESS;
}

/**
 * K8S_CANARY_ROLLOUT (reference §4.5): from the target commit's manifests, with `patches`
 * applied, creates `<workload>-<suffix>` copies (replicas from `replicas`, default 1; the canary
 * variant label in selector and pod labels), copies of every ConfigMap and Secret the canary pods
 * use instead of the originals, and with `createService` a `<service>-<suffix>` Service. The keys
 * go to shared metadata `canary-resources` before anything is applied; the stage then waits
 * until the canary Deployments are available (fails on ProgressDeadlineExceeded or timeout).
 * Server-side apply makes a re-run converge on the same objects.
 */
export class K8sCanaryRolloutExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    const cfg = input.appConfig as ApplicationConfig;
    const opts: K8sCanaryRolloutStageOptions = {
      replicas: undefined,
      suffix: cfg.variantLabel.canaryValue,
      createService: false,
      patches: [],
      ...(input.stageConfig as Partial<K8sCanaryRolloutStageOptions> | undefined),
    };
    let manifests = await loadStageManifests(input.logger, input.targetDir, cfg.input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    let set: VariantSet;
    try {
      if (opts.patches.length) {
        manifests = applyPatches(manifests, opts.patches);
        input.logger.info(
          `Patched ${opts.patches.map((p) => `${p.target.kind} ${p.target.name}`).join(", ")} for the canary`,
        );
      }
      set = generateVariantManifests(manifests, {
        variant: "canary",
        suffix: opts.suffix || cfg.variantLabel.canaryValue,
        replicas: opts.replicas,
        variantLabel: cfg.variantLabel,
        workloads: cfg.workloads,
        copyConfigs: true,
        createService: opts.createService,
        serviceRef: cfg.service,
      });
    } catch (err) {
      input.logger.error(`Unable to generate the CANARY manifests: ${errorMessage(err)}`);
      return StageStatus.STAGE_FAILURE;
    }
    return rolloutVariantSet(this.o, input, {
      set,
      metadataKey: CANARY_RESOURCES_KEY,
      label: "Canary",
      variant: "canary",
      commit: input.targetCommit,
      replicas: opts.replicas,
    });
  }
}
