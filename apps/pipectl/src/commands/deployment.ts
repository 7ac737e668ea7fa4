import { DEPLOYMENT_STATUS_NAMES } from "@pipecd-ts/rest-api";
import { PAGE_FLAGS, int, list, oneOf, parseDuration, required, str } from "../args.js";
import type { CommandSpec, Context, GroupSpec } from "../command.js";
import {
  FINAL_STATUSES,
  currentStage,
  shownStages,
  type DeploymentJson,
  type StageJson,
} from "../deployments.js";
import { CliError, ExitCode, UsageError } from "../errors.js";
import { age, clip, fields, short, table, warningLines } from "../output.js";
import { waitForDeployment } from "../wait.js";

const ID = [
  { name: "DEPLOYMENT_ID", help: "id of the deployment (see `pipectl deployment list`)" },
];
const STATUSES = DEPLOYMENT_STATUS_NAMES;

/** A deployment status from `running`, `RUNNING` or `DEPLOYMENT_RUNNING`. */
function statusArg<T extends string>(
  name: string,
  v: string,
  choices: readonly T[],
  hint: string,
): T {
  const full = v.toUpperCase().startsWith("DEPLOYMENT_") ? v : `DEPLOYMENT_${v}`;
  try {
    return oneOf(name, full.replace(/-/g, "_"), choices, hint);
  } catch {
    throw new UsageError(
      `--${name}: "${v}" is not one of ${choices.map((c) => c.replace(/^DEPLOYMENT_/, "")).join(", ")}`,
      hint,
    );
  }
}

function deploymentTable(ds: DeploymentJson[]): string {
  if (ds.length === 0) return "No deployments.\n";
  return table(
    ["ID", "APPLICATION", "STATUS", "STAGE", "STRATEGY", "COMMIT", "AGE"],
    ds.map((d) => [
      d.id ?? "",
      clip(d.applicationName || d.applicationId, 30),
      short(d.status, "DEPLOYMENT_"),
      currentStage(d)?.name ?? "-",
      d.trigger?.syncStrategy ?? "-",
      `${(d.trigger?.commit?.hash ?? "").slice(0, 7)} ${clip(d.trigger?.commit?.message, 40)}`.trim() ||
        "-",
      age(d.createdAt),
    ]),
  );
}

function stageTable(stages: StageJson[]): string {
  return table(
    ["ID", "NAME", "STATUS", "REASON"],
    stages.map((s) => [
      s.id ?? "",
      s.name ?? "",
      short(s.status, "STAGE_"),
      clip(s.statusReason, 80) || "-",
    ]),
  );
}

function deploymentDetails(d: DeploymentJson): string {
  const t = d.trigger;
  const commit = t?.commit;
  const head = fields([
    ["ID", d.id ?? ""],
    ["Application", `${d.applicationName ?? ""} (${d.applicationId ?? ""})`],
    ["Piped", d.pipedId ?? ""],
    ["Status", `${d.status ?? ""}${d.statusReason ? ` — ${clip(d.statusReason, 200)}` : ""}`],
    [
      "Trigger",
      `${t?.kind ?? "-"}${t?.commander ? ` by ${t.commander}` : ""}${commit?.hash ? `, commit ${commit.hash.slice(0, 7)} "${clip(commit.message, 60)}"` : ""}`,
    ],
    ["Strategy", `${t?.syncStrategy ?? "-"}${t?.strategySummary ? ` — ${t.strategySummary}` : ""}`],
    ["Summary", d.summary || "-"],
    ["Created", `${d.createdAt ?? "-"} (${age(d.createdAt)} ago)`],
    ["Completed", d.completedAt && d.completedAt !== "1970-01-01T00:00:00Z" ? d.completedAt : "-"],
  ]);
  const stages = shownStages(d);
  const warnings = warningLines("Config warnings", d.configWarnings);
  return `${head}${warnings ? `\n${warnings}` : ""}\n${stages.length ? stageTable(stages) : "No stages planned yet.\n"}`;
}

async function getDeployment(ctx: Context, id: string): Promise<DeploymentJson> {
  return (await (await ctx.client()).call("getDeployment", { params: { id } })).deployment;
}

interface StageLogs {
  id: string;
  name: string;
  status: string;
  retriedCount: number;
  blocks: { index?: string; log?: string; severity?: string; createdAt?: string }[];
  completed: boolean;
}

const commands: CommandSpec[] = [
  {
    group: "deployment",
    verb: "list",
    summary: "List deployments, newest first.",
    flags: {
      app: { type: "string", arg: "APP_ID", help: "only those of this application" },
      piped: { type: "string", arg: "PIPED_ID", help: "only those of this piped" },
      status: {
        type: "string",
        multiple: true,
        arg: "STATUS",
        help: "only those with this status (repeatable): PENDING, PLANNED, RUNNING, ROLLING_BACK, SUCCESS, FAILURE, CANCELLED",
      },
      ...PAGE_FLAGS,
    },
    details: `JSON: {"deployments": [Deployment, ...], "cursor": "<next page or empty>"}`,
    async run(ctx, v) {
      const h = ctx.helpHint;
      const status = list(v, "status").map((s) => statusArg("status", s, STATUSES, h));
      const res = await (
        await ctx.client()
      ).call("listDeployments", {
        query: {
          applicationId: str(v, "app"),
          pipedId: str(v, "piped"),
          status: status.length ? status : undefined,
          limit: int(v, "limit", h),
          cursor: str(v, "cursor"),
        },
      });
      ctx.print(res, () => deploymentTable(res.deployments));
    },
  },
  {
    group: "deployment",
    verb: "get",
    summary: "Show a deployment with its stages.",
    args: ID,
    details: `JSON: {"deployment": Deployment}`,
    async run(ctx, _v, [id = ""]) {
      const d = await getDeployment(ctx, id);
      ctx.print({ deployment: d }, () => deploymentDetails(d));
    },
  },
  {
    group: "deployment",
    verb: "logs",
    summary: "Print the stage logs of a deployment (every stage that ran, or one).",
    args: ID,
    flags: {
      stage: { type: "string", arg: "STAGE_ID", help: "only this stage" },
      "retried-count": {
        type: "string",
        arg: "N",
        help: "logs of this attempt of the stage (default: the latest); needs --stage",
      },
    },
    details: `The plan's config warnings (ignored keys, fields with no effect yet) come first.
JSON: {"deploymentId": "...", "configWarnings": [ConfigWarning, ...], "stages": [{"id", "name",
      "status", "retriedCount", "blocks": [LogBlock, ...], "completed": bool}, ...]}`,
    async run(ctx, v, [id = ""]) {
      const h = ctx.helpHint;
      const stageId = str(v, "stage");
      const retried = int(v, "retried-count", h);
      if (retried !== undefined && !stageId)
        throw new UsageError("--retried-count needs --stage", h);
      const client = await ctx.client();
      const d = await getDeployment(ctx, id);
      let stages = shownStages(d).filter((s) => s.status !== "STAGE_NOT_STARTED_YET");
      if (stageId) {
        const s = (d.stages ?? []).find((x) => x.id === stageId);
        if (!s)
          throw new CliError(
            `deployment ${id} has no stage ${stageId} (stages: ${(d.stages ?? []).map((x) => x.id).join(", ")})`,
            ExitCode.API_ERROR,
          );
        stages = [s];
      }
      const out: StageLogs[] = [];
      for (const s of stages) {
        // A page at a time, each after the last block of the one before.
        const blocks: StageLogs["blocks"] = [];
        let completed = false;
        for (let afterIndex: number | undefined, more = true; more;) {
          const res = await client.call("getStageLogs", {
            params: { id, stageId: s.id ?? "" },
            query: {
              ...(retried !== undefined ? { retriedCount: retried } : {}),
              ...(afterIndex !== undefined ? { afterIndex } : {}),
            },
          });
          blocks.push(...res.blocks);
          completed = res.completed;
          more = res.more && res.blocks.length > 0;
          afterIndex = Number(res.blocks.at(-1)?.index ?? afterIndex);
        }
        out.push({
          id: s.id ?? "",
          name: s.name ?? "",
          status: s.status ?? "",
          retriedCount: retried ?? s.retriedCount ?? 0,
          blocks,
          completed,
        });
      }
      const warnings = warningLines("== plan: config warnings", d.configWarnings);
      ctx.print({ deploymentId: id, configWarnings: d.configWarnings ?? [], stages: out }, () =>
        out.length === 0
          ? `${warnings}No stage has run yet.\n`
          : (warnings ? `${warnings}\n` : "") +
            out
              .map(
                (s) =>
                  `== ${s.name} (${s.id}) ${short(s.status, "STAGE_")}\n` +
                  s.blocks
                    .map(
                      (b) =>
                        `${(b.createdAt ?? "").slice(11, 19)} ${(b.severity ?? "INFO").padEnd(7)} ${b.log ?? ""}\n`,
                    )
                    .join(""),
              )
              .join("\n"),
      );
    },
  },
  {
    group: "deployment",
    verb: "wait",
    summary:
      "Wait until a deployment ends, showing live progress on stderr; fails unless it ends with --status.",
    args: ID,
    flags: {
      status: {
        type: "string",
        arg: "STATUS",
        help: "the final status to wait for: SUCCESS, FAILURE or CANCELLED (required)",
      },
      timeout: {
        type: "string",
        arg: "DURATION",
        help: "give up after this long (default 10m), exit code 6",
      },
    },
    details: `Progress (status, current stage, elapsed) goes to stderr: one redrawn line on a
terminal, one line per change otherwise. Exit codes: 0 reached STATUS; 5 ended with another
final status; 6 --timeout passed. JSON (stdout, when the deployment ended, or at the timeout
with its last state): {"deployment": Deployment}`,
    async run(ctx, v, [id = ""]) {
      const h = ctx.helpHint;
      const target = statusArg("status", required(v, "status", h), FINAL_STATUSES, h);
      const t = str(v, "timeout");
      const timeoutMs = t ? parseDuration("timeout", t) : 10 * 60_000;
      return waitForDeployment(ctx, { deploymentId: id, target, timeoutMs });
    },
  },
  {
    group: "deployment",
    verb: "cancel",
    summary: "Cancel a running deployment; it rolls back unless --no-rollback.",
    args: ID,
    flags: {
      "no-rollback": { type: "boolean", help: "stop where it is, without rolling back" },
    },
    details: `JSON: {"commandId": "...", "deploymentId": "...", "rollback": bool}`,
    async run(ctx, v, [id = ""]) {
      const rollback = v["no-rollback"] !== true;
      const res = await (
        await ctx.client()
      ).call("cancelDeployment", { params: { id }, body: { rollback } });
      ctx.print(
        { commandId: res.commandId, deploymentId: id, rollback },
        () =>
          `Cancel of deployment ${id} requested ${rollback ? "with" : "without"} rollback (command ${res.commandId}).\n`,
      );
    },
  },
];

/** `pipectl deployment …` */
export const deploymentGroup: GroupSpec = {
  name: "deployment",
  summary: "list, show, follow (wait), read logs of and cancel deployments",
  commands,
};
