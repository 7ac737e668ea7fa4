import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput } from "@pipecd-ts/plugin-sdk";
import { deleteKeys } from "./apply.js";
import type { K8sExecutorOptions } from "./sync.js";
import { BASELINE_RESOURCES_KEY, CANARY_RESOURCES_KEY, WORKLOAD_KINDS } from "./variant.js";

/**
 * Deletes the resources a variant rollout recorded in shared metadata `metadataKey`:
 * non-workloads first (Services, ConfigMaps, Secrets — closing incoming connections), then
 * workloads, owner-checked. Missing metadata fails; objects already gone count as deleted, so a
 * re-run succeeds. Routing is not touched.
 */
async function cleanVariant(
  o: K8sExecutorOptions,
  input: StageInput,
  metadataKey: string,
  variant: "CANARY" | "BASELINE",
): Promise<StageStatus> {
  const value = input.metadata.shared.get(metadataKey);
  if (value === undefined) {
    input.logger.error(`Unable to determine the applied ${variant} resources`);
    return StageStatus.STAGE_FAILURE;
  }
  const keys = value.split(",").filter(Boolean);
  const isWorkload = (k: string): boolean => WORKLOAD_KINDS.has(k.split(":")[1] ?? "");
  const ordered = [...keys.filter((k) => !isWorkload(k)), ...keys.filter(isWorkload)];
  input.logger.info(`Deleting ${ordered.length} ${variant} resources`);
  const ok = await deleteKeys(o.kube, ordered, { signal: input.signal, logger: input.logger });
  if (!ok) return StageStatus.STAGE_FAILURE;
  input.logger.success(`Successfully cleaned the ${variant} resources`);
  return StageStatus.STAGE_SUCCESS;
}

/** K8S_CANARY_CLEAN (reference §4.5): deletes the resources listed in `canary-resources`. */
export class K8sCanaryCleanExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  execute(input: StageInput): Promise<StageStatus> {
    return cleanVariant(this.o, input, CANARY_RESOURCES_KEY, "CANARY");
  }
}

/** K8S_BASELINE_CLEAN (reference §4.5): deletes the resources listed in `baseline-resources`. */
export class K8sBaselineCleanExecutor implements StageExecutor {
  constructor(private readonly o: K8sExecutorOptions) {}

  execute(input: StageInput): Promise<StageStatus> {
    return cleanVariant(this.o, input, BASELINE_RESOURCES_KEY, "BASELINE");
  }
}
