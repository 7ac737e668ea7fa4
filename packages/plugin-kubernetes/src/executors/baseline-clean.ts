import type { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { cleanVariant } from "../variant/rollout.js";
import { BASELINE_RESOURCES_KEY } from "../variant/variant.js";
import type { K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_BASELINE_CLEAN">;

/** K8S_BASELINE_CLEAN (reference §4.5): deletes the resources listed in `baseline-resources`. */
export class K8sBaselineCleanExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  execute(input: StageInput<Options>): Promise<StageStatus> {
    return cleanVariant(this.o, input, BASELINE_RESOURCES_KEY, "BASELINE");
  }
}
