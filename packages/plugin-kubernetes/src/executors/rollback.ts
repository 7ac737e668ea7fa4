import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { deleteKeys } from "../apply.js";
import { VARIANT_RESOURCE_KEYS } from "../variant/variant.js";
import { rollOut, safetyOf, stageManifests, type K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"ROLLBACK">;

/**
 * ROLLBACK (PipeCD `rollback.go`): re-applies the running commit's manifests as primary (so the
 * VirtualService or Service is back as in Git) and waits for them, deletes canary and baseline
 * resources recorded in metadata, and — unlike PipeCD (#1972) — also deletes resources that only
 * the failed commit added (`safety.rollbackPrune`). Its deadline is `safety.rollbackTimeout`,
 * applied by the scheduler. Fails when there is no running commit (first deployment).
 */
export class RollbackExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  async execute(input: StageInput<Options>): Promise<StageStatus> {
    if (!input.runningCommit || !input.runningDir) {
      input.logger.error(
        "Unable to roll back: no previous successful deployment (it seems this is the first deployment)",
      );
      return StageStatus.STAGE_FAILURE;
    }
    const running = await stageManifests(this.o, input, "running");
    if (!running) return StageStatus.STAGE_FAILURE;
    input.logger.info(
      `Rolling back to commit ${input.runningCommit.slice(0, 8)} (${running.length} manifests)`,
    );
    let ok = await rollOut(this.o, input, running, "primary", input.runningCommit);
    const variantKeys = VARIANT_RESOURCE_KEYS.flatMap((k) =>
      (input.metadata.shared.get(k) ?? "").split(",").filter(Boolean),
    );
    const keep = new Set(running.map((m) => m.key));
    // The failed commit's manifests may not render at all (that may be why it failed).
    const target =
      (await stageManifests(this.o, { ...input, logger: quiet }).catch(() => [])) ?? [];
    const added = target.map((m) => m.key).filter((k) => !keep.has(k));
    const prune = safetyOf(this.o, input).rollbackPrune;
    if (added.length && prune)
      input.logger.info(`Deleting ${added.length} resources that only the failed commit added`);
    else if (added.length)
      input.logger.info(
        `Leaving ${added.length} resources that only the failed commit added in place ` +
          `(safety.rollbackPrune is off): ${added.join(", ")}`,
      );
    const common = { signal: input.signal, logger: input.logger };
    ok = (await deleteKeys(this.o.kube, [...variantKeys, ...(prune ? added : [])], common)) && ok;
    if (ok) input.logger.success("Rolled back successfully");
    return ok ? StageStatus.STAGE_SUCCESS : StageStatus.STAGE_FAILURE;
  }
}

/** A stage logger that drops lines (the failed commit's render problems are already logged). */
const quiet = { info: () => undefined, success: () => undefined, error: () => undefined };
