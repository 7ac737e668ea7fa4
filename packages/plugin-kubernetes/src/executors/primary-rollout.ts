import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { deleteKeys, errorMessage } from "../apply.js";
import { routerFor } from "../traffic/routers.js";
import { ensurePrimaryLabel, generatePrimaryService } from "../variant/variant.js";
import { rollOut, stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_PRIMARY_ROLLOUT">;

/**
 * K8S_PRIMARY_ROLLOUT (reference §4.5): applies the target commit's manifests as the primary
 * variant — all of them except those the traffic router owns (the routing VirtualService under
 * Istio) — with `addVariantLabelToSelector`, `createService` (`<service>-<suffix>` selecting
 * primary pods), the builtin annotations and config hash; waits until the Deployments are rolled
 * out and available; with `prune`, deletes (owner-checked) resources of the running commit the
 * target no longer has. The router may refuse workloads it cannot route (podselector needs the
 * primary variant label in every workload unless `addVariantLabelToSelector`).
 */
export class K8sPrimaryRolloutExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    const cfg = input.appConfig;
    const label = cfg.variantLabel;
    const opts = input.stageConfig;
    const manifests = await stageManifests(this.o, input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    const targetKeys = new Set(manifests.map((m) => m.key));

    const router = routerFor(cfg.trafficRouting.method);
    const problem = router?.checkPrimary(manifests, cfg, opts);
    if (problem) {
      input.logger.error(problem);
      return StageStatus.STAGE_FAILURE;
    }
    const routed = new Set(router?.routedManifests(manifests, cfg) ?? []);
    for (const m of routed)
      input.logger.info(
        `Not applying ${m.obj.kind} ${m.obj.metadata.name}: its traffic split is managed by K8S_TRAFFIC_ROUTING`,
      );
    let toApply = manifests.filter((m) => !routed.has(m));
    if (opts.addVariantLabelToSelector) ensurePrimaryLabel(toApply, label, cfg.workloads);
    if (opts.createService) {
      try {
        const services = generatePrimaryService(toApply, {
          suffix: opts.suffix,
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
    if (!(await rollOut(this.o, input, toApply, "primary", input.targetCommit)))
      return StageStatus.STAGE_FAILURE;

    if (opts.prune) {
      if (!input.runningDir) input.logger.info("Nothing to prune: no previous deployment");
      else {
        const running = await stageManifests(this.o, input, "running");
        if (!running) return StageStatus.STAGE_FAILURE;
        const gone = running.map((m) => m.key).filter((k) => !targetKeys.has(k));
        input.logger.info(
          gone.length
            ? `Pruning ${gone.length} resources removed from Git: ${gone.join(", ")}`
            : "Nothing to prune: every resource of the running commit is still in Git",
        );
        const common = { signal: input.signal, logger: input.logger };
        if (!(await deleteKeys(this.o.kube, gone, common))) return StageStatus.STAGE_FAILURE;
      }
    }
    input.logger.success("Successfully rolled out the PRIMARY variant");
    return StageStatus.STAGE_SUCCESS;
  }
}
