import { StageStatus } from "@pipecd-ts/proto";
import type { ApplicationConfig } from "@pipecd-ts/config";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { applyAll, deleteKeys } from "./apply.js";
import { loadManifests } from "./manifest.js";
import { awaitRollout, safetyOf, type K8sExecutorOptions } from "./sync.js";

/** Shared-metadata keys listing variant resources created by canary/baseline stages. */
export const VARIANT_RESOURCE_KEYS = ["canary-resources", "baseline-resources"] as const;

/**
 * ROLLBACK (PipeCD `rollback.go`): re-applies the running commit's manifests as primary (so the
 * VirtualService or Service is back as in Git) and waits for them, deletes canary and baseline
 * resources recorded in metadata, and — unlike PipeCD (#1972) — also deletes resources that only
 * the failed commit added (`safety.rollbackPrune`). Its deadline is `safety.rollbackTimeout`,
 * applied by the scheduler. Fails when there is no running commit (first deployment).
 */
export class RollbackExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput): Promise<StageStatus> {
    if (!input.runningCommit || !input.runningDir) {
      input.logger.error(
        "Unable to roll back: no previous successful deployment (it seems this is the first deployment)",
      );
      return StageStatus.STAGE_FAILURE;
    }
    const cfg = input.appConfig as ApplicationConfig;
    const running = await loadManifests(input.runningDir, cfg.input);
    input.logger.info(
      `Rolling back to commit ${input.runningCommit.slice(0, 8)} (${running.length} manifests)`,
    );
    const common = { signal: input.signal, logger: input.logger };
    let ok = await applyAll(this.o.kube, running, {
      ...common,
      pipedId: input.pipedId,
      applicationId: input.deployment.applicationId,
      commit: input.runningCommit,
      variantKey: cfg.variantLabel.key,
      variant: cfg.variantLabel.primaryValue,
    });
    if (ok) ok = await awaitRollout(this.o, input, running);
    const variantKeys = VARIANT_RESOURCE_KEYS.flatMap((k) =>
      (input.metadata.shared.get(k) ?? "").split(",").filter(Boolean),
    );
    const keep = new Set(running.map((m) => m.key));
    const added = (await loadManifests(input.targetDir, cfg.input).catch(() => []))
      .map((m) => m.key)
      .filter((k) => !keep.has(k));
    const prune = safetyOf(this.o, cfg).rollbackPrune;
    if (added.length && prune)
      input.logger.info(`Deleting ${added.length} resources that only the failed commit added`);
    else if (added.length)
      input.logger.info(
        `Leaving ${added.length} resources that only the failed commit added in place ` +
          `(safety.rollbackPrune is off): ${added.join(", ")}`,
      );
    ok = (await deleteKeys(this.o.kube, [...variantKeys, ...(prune ? added : [])], common)) && ok;
    if (ok) input.logger.success("Rolled back successfully");
    return ok ? StageStatus.STAGE_SUCCESS : StageStatus.STAGE_FAILURE;
  }
}
