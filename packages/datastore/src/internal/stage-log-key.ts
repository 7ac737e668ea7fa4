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

/** Blocks written per transaction by an append (a few ms of inserts). */
export const APPEND_CHUNK = 500;

/** Oldest blocks dropped per write when a log is over its limit (the rest go next time). */
export const TRIM_ROWS_PER_WRITE = 5_000;

/** Consecutive slices of `items`, `size` each (the last may be shorter). */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/**
 * What a log over `maxBytes` is trimmed down to: 90% of it, so that a busy log is trimmed once
 * per tenth of its size rather than on every append.
 */
export function trimTarget(maxBytes: number): number {
  return Math.floor((maxBytes * 9) / 10);
}
