import type { ResponseOf } from "@pipecd-ts/rest-api";
import { PAGE_FLAGS, int, labels, oneOf, required, str } from "../args.js";
import { UsageError } from "../errors.js";
import type { CommandSpec, GroupSpec } from "../command.js";
import { idCommand } from "./by-id.js";
import { age, clip, fields, table, warningLines } from "../output.js";

type ApplicationJson = ResponseOf<"getApplication">["application"];

const ID = { name: "APP_ID", help: "id of the application (see `pipectl application list`)" };
const STRATEGIES = ["AUTO", "QUICK_SYNC", "PIPELINE"] as const;

function appTable(apps: ApplicationJson[]): string {
  if (apps.length === 0) return "No applications.\n";
  return table(
    [
      "ID",
      "NAME",
      "PIPED",
      "REPO",
      "PATH",
      "SYNC",
      "WARNINGS",
      "DISABLED",
      "LAST DEPLOYMENT",
      "AGE",
    ],
    apps.map((a) => [
      a.id ?? "",
      clip(a.name, 40),
      a.pipedId ?? "",
      a.gitPath?.repo?.id ?? "",
      a.gitPath?.path ?? "",
      a.syncState?.status ?? "-",
      String(a.configWarnings?.length ?? 0),
      a.disabled ? "yes" : "no",
      a.mostRecentlyTriggeredDeployment?.deploymentId || "-",
      age(a.createdAt),
    ]),
  );
}

function appDetails(a: ApplicationJson): string {
  const lbl = Object.entries(a.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return (
    fields([
      ["ID", a.id ?? ""],
      ["Name", a.name ?? ""],
      ["Piped", a.pipedId ?? ""],
      ["Repository", a.gitPath?.repo?.id ?? ""],
      ["Path", a.gitPath?.path ?? ""],
      ["Config file", a.gitPath?.configFilename || "app.pipecd.yaml"],
      ["Platform", a.platformProvider || "-"],
      ["Labels", lbl || "-"],
      ["Disabled", a.disabled ? "yes" : "no"],
      [
        "Sync state",
        `${a.syncState?.status ?? "-"}${a.syncState?.shortReason ? ` (${a.syncState.shortReason})` : ""}`,
      ],
      ["Last triggered", a.mostRecentlyTriggeredDeployment?.deploymentId || "-"],
      ["Last successful", a.mostRecentlySuccessfulDeployment?.deploymentId || "-"],
      ["Description", a.description || "-"],
      ["Created", `${a.createdAt ?? "-"} (${age(a.createdAt)} ago)`],
    ]) +
    warningLines(
      `Config warnings at commit ${(a.configCommitHash ?? "").slice(0, 7)}`,
      a.configWarnings,
    )
  );
}

/** "true"/"false" for --disabled. */
function bool(name: string, v: string | undefined, hint: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new UsageError(`--${name}: "${v}" is not true or false`, hint);
}

const commands: CommandSpec[] = [
  {
    group: "application",
    verb: "add",
    summary: "Add an application that a piped deploys from a directory of one of its repositories.",
    flags: {
      name: { type: "string", arg: "NAME", help: "application name (required)" },
      piped: { type: "string", arg: "PIPED_ID", help: "piped that deploys it (required)" },
      repo: {
        type: "string",
        arg: "REPO_ID",
        help: "repository id from the piped's config (required)",
      },
      path: { type: "string", arg: "DIR", help: "directory in the repository (required)" },
      "config-filename": {
        type: "string",
        arg: "FILE",
        help: "app config file name in DIR (default app.pipecd.yaml)",
      },
      "platform-provider": { type: "string", arg: "NAME", help: "platform provider of the piped" },
      label: { type: "string", multiple: true, arg: "KEY=VALUE", help: "label (repeatable)" },
      description: { type: "string", arg: "TEXT", help: "description" },
    },
    details: `JSON: {"id": "...", "application": Application}`,
    async run(ctx, v) {
      const h = ctx.helpHint;
      const lbl = labels(v, "label", h);
      const configFilename = str(v, "config-filename");
      const platformProvider = str(v, "platform-provider");
      const description = str(v, "description");
      const res = await (
        await ctx.client()
      ).call("addApplication", {
        body: {
          name: required(v, "name", h),
          pipedId: required(v, "piped", h),
          gitPath: {
            repoId: required(v, "repo", h),
            path: required(v, "path", h),
            ...(configFilename !== undefined ? { configFilename } : {}),
          },
          ...(platformProvider !== undefined ? { platformProvider } : {}),
          ...(Object.keys(lbl).length ? { labels: lbl } : {}),
          ...(description !== undefined ? { description } : {}),
        },
      });
      ctx.print(res, () => appDetails(res.application));
    },
  },
  {
    group: "application",
    verb: "list",
    summary: "List applications.",
    flags: {
      piped: { type: "string", arg: "PIPED_ID", help: "only those of this piped" },
      name: { type: "string", arg: "NAME", help: "only those with this name" },
      disabled: { type: "string", arg: "true|false", help: "only disabled or enabled ones" },
      label: {
        type: "string",
        multiple: true,
        arg: "KEY=VALUE",
        help: "only those with this label (repeatable; all must match)",
      },
      ...PAGE_FLAGS,
    },
    details: `JSON: {"applications": [Application, ...], "cursor": "<next page or empty>"}`,
    async run(ctx, v) {
      const h = ctx.helpHint;
      const lbl = Object.entries(labels(v, "label", h)).map(([k, x]) => `${k}:${x}`);
      const query = {
        pipedId: str(v, "piped"),
        name: str(v, "name"),
        disabled: bool("disabled", str(v, "disabled"), h),
        label: lbl.length ? lbl : undefined,
        limit: int(v, "limit", h),
        cursor: str(v, "cursor"),
      };
      const res = await (await ctx.client()).call("listApplications", { query });
      ctx.print(res, () => appTable(res.applications));
    },
  },
  idCommand({
    group: "application",
    verb: "get",
    summary: "Show one application.",
    arg: ID,
    json: `{"application": Application}`,
    op: "getApplication",
    render: (res) => appDetails(res.application),
  }),
  {
    group: "application",
    verb: "sync",
    summary: "Ask the piped to deploy the application's current Git head now.",
    args: [ID],
    flags: {
      strategy: {
        type: "string",
        arg: "STRATEGY",
        help: "AUTO (default: the planner decides), QUICK_SYNC or PIPELINE",
      },
    },
    details: `JSON: {"commandId": "..."} (follow it with the deployment list of the app)`,
    async run(ctx, v, [id = ""]) {
      const s = str(v, "strategy");
      const strategy = s
        ? oneOf("strategy", s.replace(/-/g, "_"), STRATEGIES, ctx.helpHint)
        : undefined;
      const res = await (
        await ctx.client()
      ).call("syncApplication", { params: { id }, body: strategy ? { strategy } : {} });
      ctx.print(res, () => `Sync of application ${id} requested (command ${res.commandId}).\n`);
    },
  },
  idCommand({
    group: "application",
    verb: "disable",
    summary: "Disable an application: its piped stops deploying it.",
    arg: ID,
    json: `{"application": Application}`,
    op: "disableApplication",
    render: (res) => appTable([res.application]),
  }),
  idCommand({
    group: "application",
    verb: "enable",
    summary: "Enable a disabled application.",
    arg: ID,
    json: `{"application": Application}`,
    op: "enableApplication",
    render: (res) => appTable([res.application]),
  }),
];

/** `pipectl application …` */
export const applicationGroup: GroupSpec = {
  name: "application",
  summary: "add, list, show, sync, disable and enable applications",
  commands,
};
