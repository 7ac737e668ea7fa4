import { METADATA_APPROVED_BY } from "@pipecd-ts/model";
import { StageStatus } from "@pipecd-ts/proto";
import type { StageExecutor, StageInput, StageOptionsOf } from "@pipecd-ts/plugin-sdk";
import { stageStartTime } from "./wait.js";
import { MAX_TIMER_MS } from "@pipecd-ts/runtime";

/**
 * WAIT_APPROVAL (PipeCD `executor/waitapproval`): waits for approvals pushed over the Watch
 * stream; counts each user once; only listed approvers count (the control plane refuses others
 * too); `minApproverNum` approvals → SUCCESS; a rejection → FAILURE; the timeout (default 6h) →
 * FAILURE. Approvals and the start time live in stage metadata, so a restart keeps both.
 */
export class WaitApprovalExecutor implements StageExecutor<StageOptionsOf<"WAIT_APPROVAL">> {
  async execute(input: StageInput<StageOptionsOf<"WAIT_APPROVAL">>): Promise<StageStatus> {
    const { approvers, minApproverNum: min, timeoutMs } = input.stageConfig;
    const scope = input.metadata.stage(input.stage.id);
    const approved = (scope.get(METADATA_APPROVED_BY) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (approved.length >= min) {
      input.logger.success(`Already approved by ${approved.join(", ")}`);
      return StageStatus.STAGE_SUCCESS;
    }
    const started = await stageStartTime(input);
    const deadline = started + timeoutMs;
    input.logger.info(
      `Waiting for approval from at least ${min} user(s)${approvers.length ? ` among ${approvers.join(", ")}` : ""}...`,
    );
    for (;;) {
      const left = deadline - input.clock.now().getTime();
      if (left <= 0) {
        input.logger.error(`Timed out waiting for approval after ${Math.round(timeoutMs / 1000)}s`);
        return StageStatus.STAGE_FAILURE;
      }
      // A ref'd timer (AbortSignal.timeout's is unref'd and would not keep the process alive).
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), Math.min(left, MAX_TIMER_MS));
      const signal = AbortSignal.any([input.signal, timeout.signal]);
      let cmd;
      try {
        cmd = await input.commands.next(signal);
      } catch {
        if (input.signal.aborted) return StageStatus.STAGE_CANCELLED; // mapped by the scheduler
        continue; // timer fired: loop re-checks the deadline
      } finally {
        clearTimeout(timer);
      }
      if (cmd.kind === "reject") {
        await input.commands.ack(cmd, true);
        input.logger.error(`Rejected by ${cmd.commander}${cmd.reason ? `: ${cmd.reason}` : ""}`);
        return StageStatus.STAGE_FAILURE;
      }
      if (approvers.length && !approvers.includes(cmd.commander)) {
        await input.commands.ack(cmd, false, { reason: "not an approver" });
        input.logger.error(
          `Approval from ${cmd.commander} ignored: not one of ${approvers.join(", ")}`,
        );
        continue;
      }
      if (approved.includes(cmd.commander)) {
        await input.commands.ack(cmd, true);
        input.logger.info(`Approval from the same user ${cmd.commander} will not be counted`);
        continue;
      }
      approved.push(cmd.commander);
      await scope.put({ [METADATA_APPROVED_BY]: approved.join(", ") });
      await input.commands.ack(cmd, true);
      input.logger.info(`Approved by ${cmd.commander} (${approved.length}/${min})`);
      if (approved.length >= min) {
        input.logger.success(`Approved by ${approved.join(", ")}`);
        return StageStatus.STAGE_SUCCESS;
      }
    }
  }
}
