import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { formatDuration, sleep } from "@pipecd-ts/runtime";

/**
 * Stage metadata key holding when a timed stage started: unix seconds as PipeCD's WAIT, with a
 * millisecond fraction ("1732634567.123") so short and resumed waits stay exact.
 */
export const START_TIME_KEY = "startTime";

/**
 * The start time of a timed stage: read from stage metadata if a previous run recorded it (so a
 * piped restart does not restart the clock), else now, persisted before waiting.
 */
export async function stageStartTime(input: StageInput): Promise<number> {
  const scope = input.metadata.stage(input.stage.id);
  const recorded = Number(scope.get(START_TIME_KEY));
  if (Number.isFinite(recorded) && recorded > 0) return Math.round(recorded * 1000);
  const now = input.clock.now().getTime();
  await scope.put({ [START_TIME_KEY]: (now / 1000).toFixed(3) });
  return now;
}

/** WAIT: sleeps for `duration` (default 1m), resuming from the recorded start after a restart. */
export class WaitExecutor implements StageExecutor<StageOptionsOf<"WAIT">> {
  async execute(input: StageInput<StageOptionsOf<"WAIT">>): Promise<StageStatus> {
    const { durationMs } = input.stageConfig;
    const started = await stageStartTime(input);
    const remaining = started + durationMs - input.clock.now().getTime();
    if (remaining < durationMs - 1_000)
      input.logger.info(
        `Resuming the wait: ${formatDuration(Math.max(0, remaining))} of ${formatDuration(durationMs)} left`,
      );
    else input.logger.info(`Waiting for ${formatDuration(durationMs)}...`);
    if (remaining > 0) {
      try {
        await sleep(remaining, input.signal);
      } catch {
        return StageStatus.STAGE_CANCELLED; // the scheduler maps the stop reason
      }
    }
    input.logger.success(`Waited for ${formatDuration(durationMs)}`);
    return StageStatus.STAGE_SUCCESS;
  }
}
