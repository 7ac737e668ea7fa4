import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Command_Type, CommandStatus, type Command } from "@pipecd-ts/proto";
import { parsePlanPreviewOutput } from "@pipecd-ts/model/plan-preview";
import type { PlanPreviewResult } from "@pipecd-ts/rest-api";
import { AppError, NotFoundError } from "@pipecd-ts/runtime";
import type { HandlerDeps, HandlerKit, Handlers } from "./shared.js";

/** The default time a piped has to build a plan preview (PipeCD's `--piped-handle-timeout`). */
const DEFAULT_TIMEOUT_SECONDS = 300;

/**
 * Plan previews (PipeCD `RequestPlanPreview` / `GetPlanPreviewResults`): one BUILD_PLAN_PREVIEW
 * command per enabled piped that deploys from the repository, and their answers.
 */
export function planPreviewHandlers(
  deps: HandlerDeps,
  kit: HandlerKit,
): Pick<Handlers, "requestPlanPreview" | "getPlanPreviewResults"> {
  const { ds, actions, projectId, clock } = deps;
  return {
    async requestPlanPreview(req, ctx) {
      const b = req.body;
      const timeoutSeconds = b.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
      const pipeds = (await ds.pipeds.list(projectId)).filter(
        (p) =>
          !p.disabled &&
          p.repositories.some(
            (r) => r.id === b.repoId && (b.baseBranch === undefined || r.branch === b.baseBranch),
          ),
      );
      const commands = [];
      for (const p of pipeds) {
        const repo = p.repositories.find((r) => r.id === b.repoId)!;
        const cmd = await actions.createCommand(
          {
            type: Command_Type.BUILD_PLAN_PREVIEW,
            pipedId: p.id,
            payload: {
              case: "buildPlanPreview",
              value: {
                repositoryId: b.repoId,
                head: b.head,
                baseBranch: b.baseBranch ?? repo.branch,
                timeoutSeconds: BigInt(timeoutSeconds),
              },
            },
          },
          ctx.principal,
          {
            action: "plan-preview.request",
            resourceType: "piped",
            resourceId: p.id,
            details: (c) => ({ commandId: c.id, repoId: b.repoId, head: b.head }),
            sourceIp: ctx.ip,
          },
        );
        commands.push({ commandId: cmd.id, pipedId: p.id, pipedName: p.name });
      }
      return { commands };
    },

    async getPlanPreviewResults(req) {
      const results: PlanPreviewResult[] = [];
      for (const id of req.query?.commandId ?? []) {
        const cmd = await kit
          .inProject(ds.commands.get(id), "command", id)
          .catch((err: unknown) => {
            if (err instanceof AppError && err.code === "NOT_FOUND")
              throw new NotFoundError(`plan-preview command ${id} not found`);
            throw err;
          });
        if (cmd.type !== Command_Type.BUILD_PLAN_PREVIEW)
          throw new NotFoundError(`plan-preview command ${id} not found`);
        const piped = await kit.getPiped(cmd.pipedId).catch(() => undefined);
        results.push(resultOf(cmd, piped?.name ?? "", clock.now()));
      }
      return { results };
    },
  };
}

/** One command's answer so far. */
function resultOf(cmd: Command, pipedName: string, now: Date): PlanPreviewResult {
  const base = {
    commandId: cmd.id,
    pipedId: cmd.pipedId,
    pipedName,
    error: "",
    headCommit: "",
    applications: [],
  };
  if (cmd.status === CommandStatus.COMMAND_NOT_HANDLED_YET) {
    const p = cmd.payload.case === "buildPlanPreview" ? cmd.payload.value : undefined;
    const created = cmd.createdAt ? timestampDate(cmd.createdAt).getTime() : now.getTime();
    // A little grace beyond the piped's own deadline, for its report to arrive.
    const deadline = created + (Number(p?.timeoutSeconds ?? 0n) + 30) * 1000;
    return now.getTime() > deadline
      ? {
          ...base,
          status: "TIMED_OUT",
          error: "Timed out, maybe the piped is offline currently.",
        }
      : { ...base, status: "WAITING" };
  }
  if (cmd.status !== CommandStatus.COMMAND_SUCCEEDED)
    return { ...base, status: "FAILED", error: cmd.metadata.error || "the piped failed" };
  const out = parsePlanPreviewOutput(cmd.output);
  if (!out) return { ...base, status: "FAILED", error: "the piped's answer is not a plan preview" };
  return {
    ...base,
    status: "SUCCEEDED",
    headCommit: out.headCommit,
    applications: out.applications,
  };
}
