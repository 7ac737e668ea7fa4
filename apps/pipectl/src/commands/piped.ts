import type { ResponseOf } from "@pipecd-ts/rest-api";
import { required, str } from "../args.js";
import type { CommandSpec, GroupSpec } from "../command.js";
import { age, clip, table } from "../output.js";
import { idCommand } from "./by-id.js";
import { KEY_FILE_FLAG, printShownOnce } from "./secret.js";

type PipedJson = ResponseOf<"getPiped">["piped"];

const ID = { name: "PIPED_ID", help: "id of the piped (see `pipectl piped list`)" };

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
      await printShownOnce(
        ctx,
        res,
        str(v, "key-file"),
        ["Piped", `${res.piped.name ?? ""} (${res.id}) registered`],
        "put it in the piped's pipedKeyFile now.",
      );
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
  idCommand({
    group: "piped",
    verb: "get",
    summary: "Show one piped.",
    arg: ID,
    json: `{"piped": Piped}`,
    op: "getPiped",
    render: (res) => pipedTable([res.piped]),
  }),
  {
    group: "piped",
    verb: "rotate-key",
    summary:
      "Add a new key to a piped (shown once); the old key keeps working until `piped delete-old-keys`.",
    args: [ID],
    flags: { "key-file": KEY_FILE_FLAG },
    details: `JSON: {"key": "<pipedKey>", "piped": Piped}; "key" is left out with --key-file.`,
    async run(ctx, v, [id = ""]) {
      const res = await (await ctx.client()).call("rotatePipedKey", { params: { id } });
      await printShownOnce(
        ctx,
        res,
        str(v, "key-file"),
        ["Piped", `${res.piped.name ?? ""} (${id}) has a new key`],
        "put it in the piped's pipedKeyFile now.",
      );
    },
  },
  idCommand({
    group: "piped",
    verb: "delete-old-keys",
    summary: "Delete every key of a piped but the newest (finishes a rotation).",
    arg: ID,
    json: `{"piped": Piped}`,
    op: "deleteOldPipedKeys",
    render: (res) => pipedTable([res.piped]),
  }),
  idCommand({
    group: "piped",
    verb: "disable",
    summary: "Disable a piped: its key stops working at once.",
    arg: ID,
    json: `{"piped": Piped}`,
    op: "disablePiped",
    render: (res) => pipedTable([res.piped]),
  }),
  idCommand({
    group: "piped",
    verb: "enable",
    summary: "Enable a disabled piped.",
    arg: ID,
    json: `{"piped": Piped}`,
    op: "enablePiped",
    render: (res) => pipedTable([res.piped]),
  }),
];

/** `pipectl piped …` */
export const pipedGroup: GroupSpec = {
  name: "piped",
  summary: "register, list, rotate keys of, disable and enable pipeds (admin)",
  commands,
};
