import { StageStatus } from "@pipecd-ts/proto";
import {
  hasStage,
  type ApplicationConfig,
  type K8sPrimaryRolloutStageOptions,
} from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { applyAll, deleteKeys, errorMessage, loadStageManifests } from "./apply.js";
import { loadManifests, type Manifest } from "./manifest.js";
import { awaitRollout, type K8sExecutorOptions } from "./sync.js";
import {
  checkVariantSelector,
  ensurePrimaryLabel,
  findWorkloads,
  generatePrimaryService,
} from "./variant.js";

/**
 * The VirtualService K8S_PRIMARY_ROLLOUT leaves alone under Istio routing (PipeCD #378, so the
 * split set by K8S_TRAFFIC_ROUTING survives): the one named `name`, else the first
 * `networking.istio.io/*` VirtualService; undefined when there is none.
 */
export function primaryExcludedVirtualService(
  manifests: readonly Manifest[],
  name: string,
): Manifest | undefined {
  return manifests.find(
    (m) =>
      m.obj.apiVersion.startsWith("networking.istio.io/") &&
      m.obj.kind === "VirtualService" &&
      (!name || m.obj.metadata.name === name),
  );
}

/**
 * K8S_PRIMARY_ROLLOUT (reference §4.5): applies the target commit's manifests as the primary
 * variant — all of them, except the routing VirtualService under Istio routing — with
 * `addVariantLabelToSelector`, `createService` (`<service>-<suffix>` selecting primary pods), the
 * builtin annotations and config hash; waits until the Deployments are rolled out and available;
 * with `prune`, deletes (owner-checked) resources of the running commit the target no longer has.
 * Under podselector routing with a K8S_TRAFFIC_ROUTING stage and no `addVariantLabelToSelector`,
 * every workload must already carry the primary variant label in its selector and pod labels.
 */
export class K8sPrimaryRolloutExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    const cfg = input.appConfig as ApplicationConfig;
    const label = cfg.variantLabel;
    const opts: K8sPrimaryRolloutStageOptions = {
      suffix: label.primaryValue,
      createService: false,
      addVariantLabelToSelector: false,
      prune: false,
      ...(input.stageConfig as Partial<K8sPrimaryRolloutStageOptions> | undefined),
    };
    const manifests = await loadStageManifests(input.logger, input.targetDir, cfg.input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    const targetKeys = new Set(manifests.map((m) => m.key));

    const method = cfg.trafficRouting.method;
    if (
      method === "podselector" &&
      !opts.addVariantLabelToSelector &&
      hasStage(cfg, "K8S_TRAFFIC_ROUTING")
    ) {
      const problems = findWorkloads(manifests, cfg.workloads).flatMap((w) => {
        const why = checkVariantSelector(w.obj, label.key, label.primaryValue);
        return why ? [`${w.obj.kind} ${w.obj.metadata.name}: ${why}`] : [];
      });
      if (problems.length) {
        input.logger.error(
          `Traffic routing by podselector needs the ${label.key}=${label.primaryValue} label in ` +
            `every workload's selector and pod template labels (or addVariantLabelToSelector: true): ${problems.join("; ")}`,
        );
        return StageStatus.STAGE_FAILURE;
      }
    }

    let toApply = manifests;
    if (method === "istio") {
      const vs = primaryExcludedVirtualService(
        manifests,
        cfg.trafficRouting.istio.virtualService.name,
      );
      if (vs) {
        toApply = manifests.filter((m) => m !== vs);
        input.logger.info(
          `Not applying VirtualService ${vs.obj.metadata.name}: its traffic split is managed by K8S_TRAFFIC_ROUTING`,
        );
      }
    }
    if (opts.addVariantLabelToSelector) ensurePrimaryLabel(toApply, label, cfg.workloads);
    if (opts.createService) {
      try {
        const services = generatePrimaryService(toApply, {
          suffix: opts.suffix || label.primaryValue,
          variantLabel: label,
          serviceRef: cfg.service,
        });
        toApply = [...toApply, ...services];
        input.logger.info(
          `Generated Service ${services.map((s) => s.obj.metadata.name).join(", ")} selecting the PRIMARY pods`,
        );
      } catch (err) {
        input.logger.error(`Unable to generate the PRIMARY Service: ${errorMessage(err)}`);
        return StageStatus.STAGE_FAILURE;
      }
    }

    input.logger.info(
      `Applying ${toApply.length} PRIMARY manifests of commit ${input.targetCommit.slice(0, 8)}`,
    );
    const common = { signal: input.signal, logger: input.logger };
    if (
      !(await applyAll(this.o.kube, toApply, {
        ...common,
        pipedId: input.pipedId,
        applicationId: input.deployment.applicationId,
        commit: input.targetCommit,
        variantKey: label.key,
        variant: label.primaryValue,
      }))
    )
      return StageStatus.STAGE_FAILURE;
    if (!(await awaitRollout(this.o, input, toApply))) return StageStatus.STAGE_FAILURE;

    if (opts.prune) {
      if (!input.runningDir) input.logger.info("Nothing to prune: no previous deployment");
      else {
        let running: Manifest[];
        try {
          running = await loadManifests(input.runningDir, cfg.input);
        } catch (err) {
          input.logger.error(
            `Failed to load the running commit's manifests to prune: ${errorMessage(err)}`,
          );
          return StageStatus.STAGE_FAILURE;
        }
        const gone = running.map((m) => m.key).filter((k) => !targetKeys.has(k));
        input.logger.info(
          gone.length
            ? `Pruning ${gone.length} resources removed from Git: ${gone.join(", ")}`
            : "Nothing to prune: every resource of the running commit is still in Git",
        );
        if (!(await deleteKeys(this.o.kube, gone, common))) return StageStatus.STAGE_FAILURE;
      }
    }
    input.logger.success("Successfully rolled out the PRIMARY variant");
    return StageStatus.STAGE_SUCCESS;
  }
}
