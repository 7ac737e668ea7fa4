import type { ReplicasSpec } from "@pipecd-ts/config";
import { parseResourceKey } from "@pipecd-ts/kube";
import { StageStatus } from "@pipecd-ts/proto";
import type { StageInput } from "@pipecd-ts/plugin-sdk";
import { deleteKeys, errorMessage } from "../apply.js";
import { rollOut, type K8sExecutorOptions } from "../executors/context.js";
import { WORKLOAD_KINDS, type VariantSet, type VariantWorkload } from "./variant.js";

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
    /** Builds the variant's resources; a throw fails the stage with its message. */
    build: () => VariantSet;
    metadataKey: string;
    /** "Canary" / "Baseline", for the log. */
    label: string;
    variant: "canary" | "baseline";
    commit: string;
    replicas: ReplicasSpec | undefined;
  },
): Promise<StageStatus> {
  let set: VariantSet;
  try {
    set = a.build();
  } catch (err) {
    input.logger.error(
      `Unable to generate the ${a.label.toUpperCase()} manifests: ${errorMessage(err)}`,
    );
    return StageStatus.STAGE_FAILURE;
  }
  const keys = set.manifests.map((m) => m.key);
  try {
    await input.metadata.shared.put({ [a.metadataKey]: keys.join(",") });
  } catch (err) {
    if (input.signal.aborted) return StageStatus.STAGE_FAILURE;
    input.logger.error(
      `Failed to save the ${a.label.toUpperCase()} resources in the deployment metadata: ${errorMessage(err)}`,
    );
    return StageStatus.STAGE_FAILURE;
  }
  for (const w of set.workloads) input.logger.info(describeVariantWorkload(a.label, w, a.replicas));
  input.logger.info(
    `Applying ${keys.length} ${a.label.toUpperCase()} resources of commit ${a.commit.slice(0, 8)}`,
  );
  if (!(await rollOut(o, input, set.manifests, a.variant, a.commit)))
    return StageStatus.STAGE_FAILURE;
  input.logger.success(
    `Successfully rolled out the ${a.label.toUpperCase()} variant: ${set.workloads
      .map((w) => `${w.manifest.obj.metadata.name} (${w.replicas})`)
      .join(", ")}`,
  );
  return StageStatus.STAGE_SUCCESS;
}

/**
 * Deletes the resources a variant rollout recorded in shared metadata `metadataKey`:
 * non-workloads first (Services, ConfigMaps, Secrets — closing incoming connections), then
 * workloads, owner-checked. Missing metadata fails; objects already gone count as deleted, so a
 * re-run succeeds. Routing is not touched.
 */
export async function cleanVariant(
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
  const isWorkload = (k: string): boolean => {
    try {
      return WORKLOAD_KINDS.has(parseResourceKey(k).kind);
    } catch {
      return false; // deleteKeys reports the malformed key
    }
  };
  const ordered = [...keys.filter((k) => !isWorkload(k)), ...keys.filter(isWorkload)];
  input.logger.info(`Deleting ${ordered.length} ${variant} resources`);
  const ok = await deleteKeys(o.kube, ordered, { signal: input.signal, logger: input.logger });
  if (!ok) return StageStatus.STAGE_FAILURE;
  input.logger.success(`Successfully cleaned the ${variant} resources`);
  return StageStatus.STAGE_SUCCESS;
}
