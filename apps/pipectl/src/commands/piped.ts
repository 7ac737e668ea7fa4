import type { ResponseOf } from "@pipecd-ts/rest-api";
import { required, str } from "../args.js";
import type { CommandSpec, Context, GroupSpec } from "../command.js";
import { age, clip, fields, table } from "../output.js";
import { KEY_FILE_FLAG, saveSecret } from "./secret.js";

type PipedJson = ResponseOf<"getPiped">["piped"];

const ID = [{ name: "PIPED_ID", help: "id of the piped (see `pipectl piped list`)" }];

function pipedTable(pipeds: PipedJson[]): string {
  if (pipeds.length === 0) return "No pipeds.\n";
  return table(
    ["ID", "NAME", "STATUS", "VERSION", "KEYS", "DISABLED", "LAST SEEN", "AGE"],
    pipeds.map((p) => [
      p.id ?? "",
      clip(p.name, 40),
      p.status ?? "-",
      p.version || "-",
      String(p.keys?.length ?? 0),
      p.disabled ? "yes" : "no",
      age(p.lastSeenAt),
      age(p.createdAt),
    ]),
  );
}

/** Prints a shown-once key (or where it was saved) after the piped it belongs to. */
async function showKey(
  ctx: Context,
  res: { key: string; piped: PipedJson; id?: string },
  keyFile: string | undefined,
  verb: string,
): Promise<void> {
  if (keyFile) await saveSecret(keyFile, res.key);
  const { key, ...rest } = res;
  ctx.print(keyFile ? rest : res, () =>
    fields([
      ["Piped", `${res.piped.name ?? ""} (${res.piped.id ?? ""}) ${verb}`],
      keyFile
        ? ["Key", `written to ${keyFile} (mode 0600)`]
        : ["Key", `${key}\n\nThe key is shown only once: put it in the piped's pipedKeyFile now.`],
    ]),
  );
}

const commands: CommandSpec[] = [
  {
    group: "piped",
    verb: "register",
    summary: "Register a piped; prints its id and key (the key is shown once).",
    flags: {
      name: { type: "string", arg: "NAME", help: "name of the piped (required)" },
      desc: { type: "string", arg: "TEXT", help: "description" },
      "key-file": KEY_FILE_FLAG,
    },
    details: `JSON: {"id": "...", "key": "<pipedKey>", "piped": Piped}; "key" is left out with --key-file.`,
    async run(ctx, v) {
      const client = await ctx.client();
      const res = await client.call("registerPiped", {
        body: {
          name: required(v, "name", ctx.helpHint),
          ...(str(v, "desc") !== undefined ? { description: str(v, "desc") } : {}),
        },
      });
      await showKey(ctx, res, str(v, "key-file"), "registered");
    },
  },
  {
    group: "piped",
    verb: "list",
    summary: "List pipeds with their connection status and version.",
    details: `JSON: {"pipeds": [Piped, ...]}`,
    async run(ctx) {
      const res = await (await ctx.client()).call("listPipeds", {});
      ctx.print(res, () => pipedTable(res.pipeds));
    },
  },
  {
    group: "piped",
    verb: "get",
    summary: "Show one piped.",
    args: ID,
    details: `JSON: {"piped": Piped}`,
    async run(ctx, _v, [id = ""]) {
      const res = await (await ctx.client()).call("getPiped", { params: { id } });
      ctx.print(res, () => pipedTable([res.piped]));
    },
  },
  {
    group: "piped",
    verb: "rotate-key",
    summary:
      "Add a new key to a piped (shown once); the old key keeps working until `piped delete-old-keys`.",
    args: ID,
    flags: { "key-file": KEY_FILE_FLAG },
    details: `JSON: {"key": "<pipedKey>", "piped": Piped}; "key" is left out with --key-file.`,
    async run(ctx, v, [id = ""]) {
      const res = await (await ctx.client()).call("rotatePipedKey", { params: { id } });
      await showKey(ctx, res, str(v, "key-file"), "has a new key");
    },
  },
  {
    group: "piped",
    verb: "delete-old-keys",
    summary: "Delete every key of a piped but the newest (finishes a rotation).",
    args: ID,
    details: `JSON: {"piped": Piped}`,
    async run(ctx, _v, [id = ""]) {
      const res = await (await ctx.client()).call("deleteOldPipedKeys", { params: { id } });
      ctx.print(res, () => pipedTable([res.piped]));
    },
  },
  {
    group: "piped",
    verb: "disable",
    summary: "Disable a piped: its key stops working at once.",
    args: ID,
    details: `JSON: {"piped": Piped}`,
    async run(ctx, _v, [id = ""]) {
      const res = await (await ctx.client()).call("disablePiped", { params: { id } });
      ctx.print(res, () => pipedTable([res.piped]));
    },
  },
  {
    group: "piped",
    verb: "enable",
    summary: "Enable a disabled piped.",
    args: ID,
    details: `JSON: {"piped": Piped}`,
    async run(ctx, _v, [id = ""]) {
      const res = await (await ctx.client()).call("enablePiped", { params: { id } });
      ctx.print(res, () => pipedTable([res.piped]));
    },
  },
];

/** `pipectl piped …` */
export const pipedGroup: GroupSpec = {
  name: "piped",
  summary: "register, list, rotate keys of, disable and enable pipeds (admin)",
  commands,
};
