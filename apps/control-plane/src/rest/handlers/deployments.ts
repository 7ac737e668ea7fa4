import { create } from "@bufbuild/protobuf";
import {
  Command_Type,
  DeploymentSchema,
  DeploymentStatus,
  LogBlockSchema,
  LogSeverity,
} from "@pipecd-ts/proto";
import { isDeploymentCompleted } from "@pipecd-ts/model";
import { FailedPreconditionError, NotFoundError } from "@pipecd-ts/runtime";
import { json, type HandlerDeps, type HandlerKit, type Handlers } from "./shared.js";

/** Blocks per stage-log answer when the caller names no limit. */
const DEFAULT_STAGE_LOG_PAGE = 1000;

/** Listing and reading deployments, their stage logs, and cancelling one. */
export function deploymentHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<Handlers, "listDeployments" | "getDeployment" | "getStageLogs" | "cancelDeployment"> {
  const { ds, actions, projectId } = deps;
  const { getDeployment } = kit;
  return {
    async listDeployments(req) {
      const q = req.query ?? {};
      const page = await ds.deployments.list({
        projectId,
        applicationId: q.applicationId,
        pipedId: q.pipedId,
        statuses: q.status?.map((s) => DeploymentStatus[s]),
        limit: q.limit,
        cursor: q.cursor,
      });
      return { deployments: page.items.map((d) => json(DeploymentSchema, d)), cursor: page.cursor };
    },

    async getDeployment(req) {
      return { deployment: json(DeploymentSchema, await getDeployment(req.params.id)) };
    },

    async getStageLogs(req) {
      const d = await getDeployment(req.params.id);
      const stage = d.stages.find((s) => s.id === req.params.stageId);
      if (!stage) throw new NotFoundError(`deployment ${d.id} has no stage ${req.params.stageId}`);
      const q = req.query ?? {};
      const afterIndex = q.afterIndex !== undefined ? BigInt(q.afterIndex) : undefined;
      const res = await ds.stageLogs.get(
        {
          deploymentId: d.id,
          stageId: stage.id,
          retriedCount: q.retriedCount ?? stage.retriedCount,
        },
        { afterIndex, limit: q.limit ?? DEFAULT_STAGE_LOG_PAGE },
      );
      const blocks = res.blocks;
      // In place of what the size limit dropped, one block saying so, just before the first
      // block kept (so a reader moving afterIndex forward sees it once).
      if (res.dropped && (afterIndex === undefined || afterIndex < res.dropped.firstKeptIndex - 1n))
        blocks.unshift(
          create(LogBlockSchema, {
            index: res.dropped.firstKeptIndex - 1n,
            severity: LogSeverity.ERROR,
            log: `[${res.dropped.blocks} earlier log blocks (${res.dropped.bytes} bytes) were dropped: this stage's log passed the control plane's limit (limits.stageLogBytes)]`,
            createdAt: blocks[0]?.createdAt,
          }),
        );
      return {
        blocks: blocks.map((b) => json(LogBlockSchema, b)),
        completed: res.completed,
        more: res.more,
      };
    },

    async cancelDeployment(req, ctx) {
      const d = await getDeployment(req.params.id);
      if (isDeploymentCompleted(d.status))
        throw new FailedPreconditionError(
          `deployment ${d.id} is already ${DeploymentStatus[d.status]}`,
        );
      const rollback = req.body.rollback ?? true;
      const cmd = await actions.createCommand(
        {
          type: Command_Type.CANCEL_DEPLOYMENT,
          pipedId: d.pipedId,
          applicationId: d.applicationId,
          deploymentId: d.id,
          payload: {
            case: "cancelDeployment",
            value: { deploymentId: d.id, forceRollback: rollback, forceNoRollback: !rollback },
          },
        },
        ctx.principal,
        {
          action: "deployment.cancel",
          resourceType: "deployment",
          resourceId: d.id,
          details: (cmd) => ({ commandId: cmd.id, rollback: String(rollback) }),
          sourceIp: ctx.ip,
        },
      );
      return { commandId: cmd.id };
    },
  };
}
