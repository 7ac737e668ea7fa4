import { InvalidArgumentError } from "@pipecd-ts/runtime";
import type { StageLogKey } from "../types.js";

/** Rejects a stage log key with an empty id or a non-integer retried count. */
export function checkStageLogKey(key: StageLogKey): void {
  if (!key.deploymentId || !key.stageId) {
    throw new InvalidArgumentError("stage log key needs a deploymentId and a stageId");
  }
  if (!Number.isSafeInteger(key.retriedCount) || key.retriedCount < 0) {
    throw new InvalidArgumentError(`stage log key has an invalid retriedCount ${key.retriedCount}`);
  }
}

/** A readable name of a stage log for messages. */
export function stageLogName(key: StageLogKey): string {
  return `stage log ${key.deploymentId}/${key.stageId}#${key.retriedCount}`;
}
