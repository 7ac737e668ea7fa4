import type { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { cleanVariant } from "../variant/rollout.js";
import { CANARY_RESOURCES_KEY } from "../variant/variant.js";
import type { K8sExecutorOptions } from "./context.js";

type Options = StageOptionsOf<"K8S_CANARY_CLEAN">;

/** K8S_CANARY_CLEAN (reference §4.5): deletes the resources listed in `canary-resources`. */
export class K8sCanaryCleanExecutor implements StageExecutor<Options> {
  constructor(private readonly o: K8sExecutorOptions) {}

  execute(input: StageInput<Options>): Promise<StageStatus> {
    return cleanVariant(this.o, input, CANARY_RESOURCES_KEY, "CANARY");
  }
}
