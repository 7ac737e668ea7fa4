import type { ResponseOf } from "@pipecd-ts/rest-api";
import { required, str } from "../args.js";
import type { CommandSpec, GroupSpec } from "../command.js";
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.js";
import { age, clip, table, warningLines } from "../output.js";
import { idCommand } from "./by-id.js";
import { KEY_FILE_FLAG, printShownOnce } from "./secret.js";

type PipedJson = ResponseOf<"getPiped">["piped"];

const ID = { name: "PIPED_ID", help: "id of the piped (see `pipectl piped list`)" };

function pipedTable(pipeds: PipedJson[]): string {
  if (pipeds.length === 0) return "No pipeds.\n";
  return table(
    [
      "ID",
      "NAME",
      "STATUS",
      "VERSION",
      "KEYS",
      "SECRETS",
      "WARNINGS",
      "DISABLED",
      "LAST SEEN",
      "AGE",
    ],
    pipeds.map((p) => [
      p.id ?? "",
      clip(p.name, 40),
      p.status ?? "-",
      p.version || "-",
      String(p.keys?.length ?? 0),
      p.secretEncryption?.type === "KEY_PAIR" ? "KEY_PAIR" : "-",
      String(p.configWarnings?.length ?? 0),
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
    render: (res) =>
      pipedTable([res.piped]) + warningLines("Config warnings", res.piped.configWarnings),
  }),
  {
    group: "piped",
    verb: "encrypt",
    summary:
      "Encrypt a secret (read from stdin or --input-file) for spec.encryption.encryptedSecrets of apps this piped deploys.",
    args: [ID],
    flags: {
      "input-file": { type: "string", arg: "FILE", help: "read the secret from FILE, not stdin" },
      base64: {
        type: "boolean",
        help: "base64-encode the secret first (for a Secret's data; PipeCD's --use-base64-encoding)",
      },
    },
    details: `Only the piped can decrypt the result (its secretManagement key pair; PipeCD's format).
The secret is sent as read: a trailing newline is kept. Also spelled \`pipectl encrypt --piped PIPED_ID\`.
JSON: {"ciphertext": "..."}`,
    async run(ctx, v, [id = ""]) {
      const file = str(v, "input-file");
      let plaintext: string;
      try {
        plaintext = file !== undefined ? await readFile(file, "utf8") : await ctx.io.readStdin();
      } catch (err) {
        throw new UsageError(
          `cannot read the secret from ${file ?? "stdin"}: ${(err as Error).message}`,
          ctx.helpHint,
        );
      }
      if (plaintext === "")
        throw new UsageError(`the secret from ${file ?? "stdin"} is empty`, ctx.helpHint);
      const res = await (
        await ctx.client()
      ).call("encryptSecret", {
        params: { id },
        body: { plaintext, ...(v.base64 === true ? { base64Encoding: true } : {}) },
      });
      ctx.print(res, () => `${res.ciphertext}\n`);
    },
  },
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
