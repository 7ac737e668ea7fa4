import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { deleteKeys } from "../apply.js";
import { ensurePrimaryLabel } from "../variant/variant.js";
import { rollOut, stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_SYNC">;

/**
 * K8S_SYNC, the quick sync (PipeCD §4.5): applies every manifest of the target commit as
 * primary, with the builtin annotations and config hash, then waits until each Deployment is
 * rolled out and available. With `quickSync.addVariantLabelToSelector`, the workloads get the
 * primary variant label in their selector and pod labels first (PipeCD `ensureSync`), so a
 * later podselector switch has a label to select. With `quickSync.prune`, resources of the running commit that the
 * target no longer has are deleted (owner-checked) — from Git, deterministic, where PipeCD uses
 * live state after a fixed 15 s sleep.
 */
export class K8sSyncExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    const cfg = input.appConfig;
    const manifests = await stageManifests(this.o, input);
    if (!manifests) return StageStatus.STAGE_FAILURE;
    if (cfg.quickSync.addVariantLabelToSelector)
      ensurePrimaryLabel(manifests, cfg.variantLabel, cfg.workloads);
    input.logger.info(
      `Applying ${manifests.length} manifests of commit ${input.targetCommit.slice(0, 8)}`,
    );
    if (!(await rollOut(this.o, input, manifests, "primary", input.targetCommit)))
      return StageStatus.STAGE_FAILURE;
    if (cfg.quickSync.prune && input.runningDir) {
      const running = await stageManifests(this.o, input, "running");
      if (!running) return StageStatus.STAGE_FAILURE;
      const keep = new Set(manifests.map((m) => m.key));
      const gone = running.map((m) => m.key).filter((k) => !keep.has(k));
      if (gone.length) input.logger.info(`Pruning ${gone.length} resources removed from Git`);
      const common = { signal: input.signal, logger: input.logger };
      if (!(await deleteKeys(this.o.kube, gone, common))) return StageStatus.STAGE_FAILURE;
    }
    input.logger.success("Successfully synced all manifests");
    return StageStatus.STAGE_SUCCESS;
  }
}
