import { RestError, resourceTree, type ResponseOf, type RestClient } from "@pipecd-ts/rest-api";
import { PAGE_FLAGS, int, labels, oneOf, required, str } from "../args.js";
import { UsageError } from "../errors.js";
import type { CommandSpec, GroupSpec } from "../command.js";
import { idCommand } from "./by-id.js";
import { age, clip, fields, table, warningLines } from "../output.js";

type ApplicationJson = ResponseOf<"getApplication">["application"];
type LiveStateJson = ResponseOf<"getApplicationLiveState">["liveState"];

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

/** A status with its explanation in parentheses: `OUT_OF_SYNC (There are 2 manifests …)`. */
function withReason(status: string | undefined, reason: string | undefined): string {
  return `${status || "-"}${reason ? ` (${reason})` : ""}`;
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
      ["Sync state", withReason(a.syncState?.status, a.syncState?.shortReason)],
      ["Health", withReason(a.healthStatus, a.healthDescription)],
      ["Deploying", a.deploying ? "yes" : "no"],
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

/** The pipeline stages of the app's config in Git, or that it deploys by quick sync only. */
function pipelineLines(a: ApplicationJson): string {
  const stages = a.configStages ?? [];
  if (stages.length === 0) return "Pipeline: quick sync only\n";
  const rows = stages.map((st, i) => [`${i + 1}.`, st.name ?? "", st.desc ?? ""]);
  const n = `${stages.length} stage${stages.length === 1 ? "" : "s"}`;
  return `Pipeline (${n}):\n${indent(table(["#", "STAGE", "DESCRIPTION"], rows))}`;
}

/** What runs in the cluster: the resource tree indented by owner depth, with each one's health. */
function resourceLines(live: LiveStateJson | null): string {
  if (!live) return "Resources: no live state reported yet\n";
  const resources = live.kubernetesResources ?? [];
  const reported = live.updatedAt ? `reported ${age(live.updatedAt)} ago` : "";
  if (resources.length === 0) return `Resources: none${reported ? ` (${reported})` : ""}\n`;
  const rows = resourceTree(resources).map(({ depth, resource: r }) => [
    `${"  ".repeat(depth)}${r.kind ?? ""}`,
    r.namespace ? `${r.namespace}/${r.name ?? ""}` : (r.name ?? ""),
    r.healthStatus ?? "-",
    r.healthDescription ?? "",
  ]);
  const head = `Resources (${resources.length}${reported ? `, ${reported}` : ""}):`;
  return `${head}\n${indent(table(["KIND", "NAMESPACE/NAME", "HEALTH", "DESCRIPTION"], rows))}`;
}

/**
 * The sync state's full reason, verbatim: PipeCD's drift diff when OUT_OF_SYNC, the config
 * errors when INVALID_CONFIG ("Show details" on the application page).
 */
function reasonLines(a: ApplicationJson): string {
  const status = a.syncState?.status;
  const reason = a.syncState?.reason ?? "";
  if ((status !== "OUT_OF_SYNC" && status !== "INVALID_CONFIG") || !reason) return "";
  // The headings of the web UI's application page.
  const title = status === "OUT_OF_SYNC" ? "Drift" : "Invalid config";
  return `\n${title}:\n${reason}${reason.endsWith("\n") ? "" : "\n"}`;
}

/** Indents every line of a block by two spaces. */
function indent(block: string): string {
  return block.replace(/^(?=.)/gm, "  ");
}

/** `application get`: what PipeCD's application page shows (issue 19). */
function appPage(a: ApplicationJson, live: LiveStateJson | null): string {
  return [appDetails(a), pipelineLines(a), resourceLines(live)].join("\n") + reasonLines(a);
}

/** The application's live state, or null while its piped has not reported one (404). */
async function liveStateOf(client: RestClient, id: string): Promise<LiveStateJson | null> {
  try {
    return (await client.call("getApplicationLiveState", { params: { id } })).liveState;
  } catch (err) {
    if (err instanceof RestError && err.status === 404) return null;
    throw err;
  }
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
  {
    group: "application",
    verb: "get",
    summary:
      "Show one application: sync state with the drift diff, health, pipeline, live resources.",
    args: [ID],
    details: `JSON: {"application": Application, "liveState": ApplicationLiveState} ("liveState" is null until the piped has reported one)`,
    async run(ctx, _v, [id = ""]) {
      const client = await ctx.client();
      const [{ application }, liveState] = await Promise.all([
        client.call("getApplication", { params: { id } }),
        liveStateOf(client, id),
      ]);
      ctx.print({ application, liveState }, () => appPage(application, liveState));
    },
  },
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
