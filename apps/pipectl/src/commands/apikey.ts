import type { ResponseOf } from "@pipecd-ts/rest-api";
import { oneOf, required, str } from "../args.js";
import type { CommandSpec, GroupSpec } from "../command.js";
import { age, clip, table } from "../output.js";
import { idCommand } from "./by-id.js";
import { KEY_FILE_FLAG, printShownOnce } from "./secret.js";

type APIKeyJson = ResponseOf<"disableAPIKey">["apiKey"];

const ROLES = ["viewer", "editor", "admin"] as const;

function keyTable(keys: APIKeyJson[]): string {
  if (keys.length === 0) return "No API keys.\n";
  return table(
    ["ID", "NAME", "ROLE", "CREATOR", "DISABLED", "LAST USED", "AGE"],
    keys.map((k) => [
      k.id ?? "",
      clip(k.name, 40),
      (k.role ?? "-").toLowerCase(),
      k.creator || "-",
      k.disabled ? "yes" : "no",
      age(k.lastUsedAt),
      age(k.createdAt),
    ]),
  );
}

const commands: CommandSpec[] = [
  {
    group: "apikey",
    verb: "create",
    summary: "Create an API key owned by you; prints it once.",
    flags: {
      name: { type: "string", arg: "NAME", help: "name of the key (required)" },
      role: { type: "string", arg: "ROLE", help: "viewer, editor or admin (required)" },
      "key-file": KEY_FILE_FLAG,
    },
    details: `JSON: {"id": "...", "key": "<keyId>.<secret>", "apiKey": APIKey}; "key" is left out with --key-file.`,
    async run(ctx, v) {
      const name = required(v, "name", ctx.helpHint);
      const role = oneOf("role", required(v, "role", ctx.helpHint), ROLES, ctx.helpHint);
      const res = await (await ctx.client()).call("createAPIKey", { body: { name, role } });
      await printShownOnce(
        ctx,
        res,
        str(v, "key-file"),
        ["API key", `${res.apiKey.name ?? ""} (${res.id}), role ${role}`],
        "store it now.",
      );
    },
  },
  {
    group: "apikey",
    verb: "list",
    summary: "List API keys (never their secrets).",
    details: `JSON: {"apiKeys": [APIKey, ...]}`,
    async run(ctx) {
      const res = await (await ctx.client()).call("listAPIKeys", {});
      ctx.print(res, () => keyTable(res.apiKeys));
    },
  },
  idCommand({
    group: "apikey",
    verb: "disable",
    summary: "Disable an API key: it stops working at once.",
    arg: { name: "KEY_ID", help: "id of the key (the part before the dot)" },
    json: `{"apiKey": APIKey}`,
    op: "disableAPIKey",
    render: (res) => keyTable([res.apiKey]),
  }),
];

/** `pipectl apikey …` */
export const apikeyGroup: GroupSpec = {
  name: "apikey",
  summary: "create, list and disable API keys (admin)",
  commands,
};
