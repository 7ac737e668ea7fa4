import { required, str } from "../args.js";
import type { CommandSpec, Context, GroupSpec } from "../command.js";
import { describeProgress, shownStages, type StageJson } from "../deployments.js";
import { CliError, ExitCode } from "../errors.js";

const FLAGS = {
  deployment: { type: "string", arg: "DEPLOYMENT_ID", help: "the deployment (required)" },
  stage: {
    type: "string",
    arg: "STAGE_ID",
    help: "the stage (default: the one currently waiting)",
  },
} as const;

type Action = "approve" | "reject" | "skip";

/**
 * The stage a stage command acts on: `--stage`, or the one that is waiting now (a running
 * WAIT_APPROVAL for approve/reject, the running stage for skip). The server checks again.
 */
async function targetStage(
  ctx: Context,
  deploymentId: string,
  stageId: string | undefined,
  action: Action,
): Promise<StageJson & { id: string }> {
  const d = (await (await ctx.client()).call("getDeployment", { params: { id: deploymentId } }))
    .deployment;
  const stages = d.stages ?? [];
  if (stageId) {
    const s = stages.find((x) => x.id === stageId);
    if (!s)
      throw new CliError(
        `deployment ${deploymentId} has no stage ${stageId} (stages: ${stages.map((x) => x.id).join(", ")})`,
        ExitCode.API_ERROR,
      );
    return { ...s, id: stageId };
  }
  const running = shownStages(d).filter((s) => s.status === "STAGE_RUNNING" && !s.rollback);
  const s = action === "skip" ? running[0] : running.find((x) => x.name === "WAIT_APPROVAL");
  if (!s?.id)
    throw new CliError(
      `deployment ${deploymentId} has no stage ${action === "skip" ? "running" : "waiting for approval"} (now: ${describeProgress(d)})`,
      ExitCode.API_ERROR,
    );
  return { ...s, id: s.id };
}

function stageCommand(
  action: Action,
  summary: string,
  extra: CommandSpec["flags"] = {},
): CommandSpec {
  return {
    group: "stage",
    verb: action,
    summary,
    flags: { ...FLAGS, ...extra },
    details: `JSON: {"commandId": "...", "deploymentId": "...", "stageId": "...", "stageName": "..."}`,
    async run(ctx, v) {
      const deploymentId = required(v, "deployment", ctx.helpHint);
      const stage = await targetStage(ctx, deploymentId, str(v, "stage"), action);
      const client = await ctx.client();
      const params = { id: deploymentId, stageId: stage.id };
      const res =
        action === "approve"
          ? await client.call("approveStage", { params })
          : action === "reject"
            ? await client.call("rejectStage", {
                params,
                body: str(v, "reason") !== undefined ? { reason: str(v, "reason") } : {},
              })
            : await client.call("skipStage", { params });
      const past = { approve: "Approved", reject: "Rejected", skip: "Skipped" }[action];
      ctx.print(
        {
          commandId: res.commandId,
          deploymentId,
          stageId: stage.id,
          stageName: stage.name ?? "",
        },
        () =>
          `${past} stage ${stage.name ?? ""} (${stage.id}) of deployment ${deploymentId} (command ${res.commandId}).\n`,
      );
    },
  };
}

/** `pipectl stage …` */
export const stageGroup: GroupSpec = {
  name: "stage",
  summary: "approve, reject or skip the waiting stage of a deployment",
  commands: [
    stageCommand(
      "approve",
      "Approve a WAIT_APPROVAL stage (your vote counts once; the stage's approvers list applies).",
    ),
    stageCommand(
      "reject",
      "Reject a WAIT_APPROVAL stage: it fails and the deployment rolls back.",
      {
        reason: { type: "string", arg: "TEXT", help: "why (recorded in the stage and audit log)" },
      },
    ),
    stageCommand("skip", "Skip the running stage (e.g. a WAIT or an approval)."),
  ],
};
