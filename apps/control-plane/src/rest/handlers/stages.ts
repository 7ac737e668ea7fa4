import {
  Command_Type,
  DeploymentStatus,
  ManualOperation,
  StageStatus,
  type Deployment,
  type PipelineStage,
} from "@pipecd-ts/proto";
import {
  METADATA_APPROVERS,
  StageName,
  isDeploymentCompleted,
  stageStatusName,
} from "@pipecd-ts/model";
import {
  AlreadyExistsError,
  AppError,
  FailedPreconditionError,
  NotFoundError,
  PermissionDeniedError,
} from "@pipecd-ts/runtime";
import type { Principal } from "../../auth/principal.js";
import type { HandlerDeps, HandlerKit, Handlers } from "./shared.js";

/** Approving, rejecting and skipping a running stage (each a command to its piped). */
export function stageHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<Handlers, "approveStage" | "rejectStage" | "skipStage"> {
  const { actions } = deps;
  const { getDeployment } = kit;

  /** The stage a stage command targets, with the common checks. */
  async function runningStage(
    depId: string,
    stageId: string,
  ): Promise<{ d: Deployment; s: PipelineStage }> {
    const d = await getDeployment(depId);
    const s = d.stages.find((x) => x.id === stageId);
    if (!s) throw new NotFoundError(`deployment ${depId} has no stage ${stageId}`);
    if (isDeploymentCompleted(d.status))
      throw new FailedPreconditionError(
        `deployment ${depId} is already ${DeploymentStatus[d.status]}`,
      );
    if (s.status !== StageStatus.STAGE_RUNNING)
      throw new FailedPreconditionError(
        `stage ${stageId} is ${stageStatusName(s.status)}, not STAGE_RUNNING`,
      );
    return { d, s };
  }

  /** Approve/reject: a running WAIT_APPROVAL stage, caller among its approvers (if listed). */
  async function approvalStage(depId: string, stageId: string, who: Principal) {
    const { d, s } = await runningStage(depId, stageId);
    if (s.name !== StageName.WAIT_APPROVAL)
      throw new FailedPreconditionError(`stage ${stageId} is a ${s.name} stage, not WAIT_APPROVAL`);
    const approvers = s.authorizedOperators.length
      ? s.authorizedOperators
      : (s.metadata[METADATA_APPROVERS] ?? "")
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
    if (approvers.length && !approvers.includes(who.username))
      throw new PermissionDeniedError(
        `user ${who.username} is not an approver of stage ${stageId} (approvers: ${approvers.join(", ")})`,
      );
    return { d, s };
  }

  return {
    async approveStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d } = await approvalStage(id, stageId, ctx.principal);
      let cmd;
      try {
        cmd = await actions.createCommand(
          {
            type: Command_Type.APPROVE_STAGE,
            pipedId: d.pipedId,
            applicationId: d.applicationId,
            deploymentId: d.id,
            stageId,
            payload: { case: "approveStage", value: { deploymentId: d.id, stageId } },
          },
          ctx.principal,
          {
            action: "stage.approve",
            resourceType: "deployment",
            resourceId: d.id,
            details: (cmd) => ({ stageId, commandId: cmd.id }),
            sourceIp: ctx.ip,
          },
          // One vote per user and stage, enforced by the datastore (also across replicas).
          `approve:${d.id}:${stageId}:${ctx.principal.username}`,
        );
      } catch (err) {
        if (err instanceof AppError && err.code === "ALREADY_EXISTS")
          throw new AlreadyExistsError(
            `user ${ctx.principal.username} has already approved stage ${stageId}; a second approval by the same user is not counted`,
          );
        throw err;
      }
      return { commandId: cmd.id };
    },

    async rejectStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d } = await approvalStage(id, stageId, ctx.principal);
      const reason = req.body.reason ?? "";
      const cmd = await actions.createCommand(
        {
          type: Command_Type.REJECT_STAGE,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          stageId,
          payload: { case: "rejectStage", value: { deploymentId: d.id, stageId, reason } },
        },
        ctx.principal,
        {
          action: "stage.reject",
          resourceType: "deployment",
          resourceId: d.id,
          details: (cmd) => ({ stageId, commandId: cmd.id, reason }),
          sourceIp: ctx.ip,
        },
      );
      return { commandId: cmd.id };
    },

    async skipStage(req, ctx) {
      const { id, stageId } = req.params;
      const { d, s } = await runningStage(id, stageId);
      if (s.rollback || s.availableOperation === ManualOperation.NONE)
        throw new FailedPreconditionError(`stage ${stageId} (${s.name}) cannot be skipped`);
      const cmd = await actions.createCommand(
        {
          type: Command_Type.SKIP_STAGE,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          stageId,
          payload: { case: "skipStage", value: { deploymentId: d.id, stageId } },
        },
        ctx.principal,
        {
          action: "stage.skip",
          resourceType: "deployment",
          resourceId: d.id,
          details: (cmd) => ({ stageId, commandId: cmd.id }),
          sourceIp: ctx.ip,
        },
      );
      return { commandId: cmd.id };
    },
  };
}
