import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createRestClient, type RestClient } from "@pipecd-ts/rest-api";
import { GLOBAL_FLAGS, parseDuration, str, type FlagSpec, type FlagValues } from "./args.js";
import type { CommandSpec, Context, GroupSpec, Io, OutputFormat } from "./command.js";
import { apikeyGroup } from "./commands/apikey.js";
import { applicationGroup } from "./commands/application.js";
import { deploymentGroup } from "./commands/deployment.js";
import { eventGroup } from "./commands/event.js";
import { pipedGroup } from "./commands/piped.js";
import { planPreviewGroup } from "./commands/plan-preview.js";
import { stageGroup } from "./commands/stage.js";
import { ExitCode, UsageError, describeFailure, type ExitCodeValue } from "./errors.js";

/** The version pipectl reports with --version. */
export const PIPECTL_VERSION = "0.1.0";

const DEFAULT_ADDRESS = "http://127.0.0.1:8080";
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Every command group, in help order. */
export const GROUPS: readonly GroupSpec[] = [
  pipedGroup,
  apikeyGroup,
  applicationGroup,
  deploymentGroup,
  stageGroup,
  planPreviewGroup,
  eventGroup,
];

function flagLines(flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(([name, f]) => [
    `${f.short ? `-${f.short}, ` : "    "}--${name}${f.arg ? ` ${f.arg}` : ""}`,
    f.help,
  ]);
  const w = Math.max(...rows.map(([l = ""]) => l.length));
  return rows.map(([l = "", h = ""]) => `  ${l.padEnd(w)}  ${h}`).join("\n");
}

const GLOBAL_HELP = `Global flags (anywhere on the line):
${flagLines(GLOBAL_FLAGS)}`;

function mainHelp(): string {
  const w = Math.max(...GROUPS.map((g) => g.name.length));
  return `pipectl — command-line client of the pipecd-ts control plane (REST API)

Usage:
  pipectl <command> <subcommand> [arguments] [flags]

Commands:
${GROUPS.map((g) => `  ${g.name.padEnd(w)}  ${g.summary}`).join("\n")}

${GLOBAL_HELP}

Run 'pipectl <command> --help' for its subcommands. Reference: docs/pipectl.md
`;
}

function usageLine(c: CommandSpec): string {
  const args = (c.args ?? []).map((a) => ` ${a.name}`).join("");
  return `pipectl ${c.group} ${c.verb}${args}${c.flags && Object.keys(c.flags).length ? " [flags]" : ""}`;
}

function groupHelp(g: GroupSpec): string {
  const w = Math.max(...g.commands.map((c) => c.verb.length));
  return `pipectl ${g.name} — ${g.summary}

Subcommands:
${g.commands.map((c) => `  ${c.verb.padEnd(w)}  ${c.summary}`).join("\n")}

Run 'pipectl ${g.name} <subcommand> --help' for details.
`;
}

function commandHelp(c: CommandSpec): string {
  const parts = [`${c.summary}\n\nUsage:\n  ${usageLine(c)}`];
  if (c.args?.length)
    parts.push(`Arguments:\n${c.args.map((a) => `  ${a.name}  ${a.help}`).join("\n")}`);
  if (c.flags && Object.keys(c.flags).length) parts.push(`Flags:\n${flagLines(c.flags)}`);
  parts.push(GLOBAL_HELP);
  if (c.details) parts.push(c.details);
  return parts.join("\n\n") + "\n";
}

/** Names of every flag that takes a value (so a scan for the command words can skip values). */
function valueFlags(): { long: Set<string>; short: Set<string> } {
  const long = new Set<string>();
  const short = new Set<string>();
  const all = [GLOBAL_FLAGS, ...GROUPS.flatMap((g) => g.commands.map((c) => c.flags ?? {}))];
  for (const flags of all)
    for (const [name, f] of Object.entries(flags))
      if (f.type === "string") {
        long.add(name);
        if (f.short) short.add(f.short);
      }
  return { long, short };
}

/** The command words (the first two positionals), wherever the flags are. */
function commandWords(argv: string[]): string[] {
  const { long, short } = valueFlags();
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const t = argv[i] ?? "";
    if (t === "--") break;
    if (t.startsWith("--")) {
      if (!t.includes("=") && long.has(t.slice(2))) i++;
    } else if (t.startsWith("-") && t.length > 1) {
      if (t.length === 2 && short.has(t.slice(1))) i++;
    } else words.push(t);
  }
  return words;
}

/** Parses argv with the global and the command's flags; parse errors become usage errors. */
function parse(
  argv: string[],
  flags: Record<string, FlagSpec>,
  hint: string,
): { values: FlagValues; positionals: string[] } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const [name, f] of Object.entries({ ...GLOBAL_FLAGS, ...flags }))
    options[name] = {
      type: f.type,
      ...(f.short ? { short: f.short } : {}),
      ...(f.multiple ? { multiple: true } : {}),
    };
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values, positionals: r.positionals };
  } catch (err) {
    // node's messages are clear but long ("… To specify a positional argument …"); keep the
    // first sentence.
    const msg = (err as Error).message.split(". To specify")[0] ?? "";
    throw new UsageError(msg, hint);
  }
}

/** The API key: --api-key, --api-key-file, PIPECD_API_KEY, PIPECD_API_KEY_FILE (first wins). */
async function resolveApiKey(values: FlagValues, io: Io, hint: string): Promise<string> {
  const flagKey = str(values, "api-key");
  const flagFile = str(values, "api-key-file");
  if (flagKey !== undefined && flagFile !== undefined)
    throw new UsageError("give either --api-key or --api-key-file, not both", hint);
  const fromFile = async (file: string, via: string): Promise<string> => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new UsageError(`${via}: cannot read ${file}: ${(err as Error).message}`, hint);
    }
    const key = text.trim();
    if (!key) throw new UsageError(`${via}: ${file} is empty`, hint);
    return key;
  };
  if (flagKey !== undefined) {
    if (!flagKey.trim()) throw new UsageError("--api-key is empty", hint);
    return flagKey.trim();
  }
  if (flagFile !== undefined) return fromFile(flagFile, "--api-key-file");
  const envKey = io.env.PIPECD_API_KEY?.trim();
  if (envKey) return envKey;
  const envFile = io.env.PIPECD_API_KEY_FILE;
  if (envFile) return fromFile(envFile, "PIPECD_API_KEY_FILE");
  throw new UsageError(
    "no API key: pass --api-key KEY or --api-key-file FILE, or set PIPECD_API_KEY (the control plane writes the first admin key to <data-dir>/admin-api-key)",
    hint,
  );
}

function resolveAddress(values: FlagValues, io: Io, hint: string): string {
  const raw = str(values, "address") ?? io.env.PIPECD_ADDRESS ?? DEFAULT_ADDRESS;
  let protocol = "";
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // reported below
  }
  if (protocol !== "http:" && protocol !== "https:")
    throw new UsageError(
      `--address: "${raw}" is not an http:// or https:// URL (e.g. ${DEFAULT_ADDRESS})`,
      hint,
    );
  return raw.replace(/\/+$/, "");
}

/**
 * PipeCD's spelling `pipectl encrypt --piped PIPED_ID …` as `pipectl piped encrypt PIPED_ID …`.
 */
function encryptAlias(argv: string[]): string[] {
  if (commandWords(argv)[0] !== "encrypt") return argv;
  const out: string[] = [];
  let piped: string | undefined;
  let replaced = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === "encrypt" && !replaced) {
      out.push("piped", "encrypt");
      replaced = true;
    } else if (a === "--piped" || a === "--piped-id") piped = argv[++i] ?? "";
    else if (a.startsWith("--piped=") || a.startsWith("--piped-id="))
      piped = a.slice(a.indexOf("=") + 1);
    else out.push(a);
  }
  const at = out.indexOf("encrypt");
  if (piped !== undefined) out.splice(at + 1, 0, piped);
  return out;
}

/**
 * A group of one command runs it without its verb: PipeCD's `pipectl plan-preview --repo …` is
 * `pipectl plan-preview run --repo …`.
 */
function singleCommandAlias(argv: string[]): string[] {
  const [group, verb] = commandWords(argv);
  const g = GROUPS.find((x) => x.single && x.name === group);
  const only = g?.commands[0]?.verb;
  if (!g || !only || verb === only) return argv;
  const at = argv.indexOf(g.name);
  return [...argv.slice(0, at + 1), only, ...argv.slice(at + 1)];
}

/**
 * Runs pipectl with `argv` (without the node and script paths) and returns its exit code. Every
 * error is printed on stderr as `pipectl: <message>`; nothing is thrown.
 */
export async function runCli(argv: string[], io: Io): Promise<ExitCodeValue> {
  let address = DEFAULT_ADDRESS;
  let requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  try {
    const wantsHelp = argv.some((a) => a === "--help" || a === "-h");
    if (argv.length === 1 && argv[0] === "--version") {
      io.stdout(`pipectl ${PIPECTL_VERSION}\n`);
      return ExitCode.OK;
    }
    argv = singleCommandAlias(encryptAlias(argv));
    let [groupName, verb] = commandWords(argv);
    if (groupName === "help") {
      // `pipectl help [command [subcommand]]`
      [groupName, verb] = argv.filter((a) => !a.startsWith("-")).slice(1);
      if (!groupName) {
        io.stdout(mainHelp());
        return ExitCode.OK;
      }
      argv = [groupName, ...(verb ? [verb] : []), "--help"];
    }
    if (!groupName) {
      if (wantsHelp) {
        io.stdout(mainHelp());
        return ExitCode.OK;
      }
      // Still check the flags, so `pipectl --adress x` says what is wrong.
      parse(argv, {}, "pipectl --help");
      io.stderr(mainHelp());
      return ExitCode.USAGE;
    }
    const group = GROUPS.find((g) => g.name === groupName);
    if (!group)
      throw new UsageError(
        `unknown command "${groupName}" (commands: ${GROUPS.map((g) => g.name).join(", ")})`,
      );
    if (!verb) {
      if (argv.some((a) => a === "--help" || a === "-h")) {
        io.stdout(groupHelp(group));
        return ExitCode.OK;
      }
      io.stderr(`pipectl ${group.name}: a subcommand is required\n\n${groupHelp(group)}`);
      return ExitCode.USAGE;
    }
    const cmd = group.commands.find((c) => c.verb === verb);
    if (!cmd)
      throw new UsageError(
        `unknown subcommand "${group.name} ${verb}" (subcommands: ${group.commands.map((c) => c.verb).join(", ")})`,
        `pipectl ${group.name} --help`,
      );
    const hint = `pipectl ${cmd.group} ${cmd.verb} --help`;
    const { values, positionals } = parse(argv, cmd.flags ?? {}, hint);
    if (values.help === true) {
      io.stdout(commandHelp(cmd));
      return ExitCode.OK;
    }
    const args = positionals.slice(2);
    const want = cmd.args ?? [];
    if (args.length < want.length)
      throw new UsageError(
        `missing ${want
          .slice(args.length)
          .map((a) => a.name)
          .join(" ")} (usage: ${usageLine(cmd)})`,
        hint,
      );
    if (args.length > want.length)
      throw new UsageError(`unexpected argument "${args[want.length] ?? ""}"`, hint);
    for (const [i, a] of want.entries())
      if (!args[i]?.trim()) throw new UsageError(`${a.name} is empty`, hint);

    address = resolveAddress(values, io, hint);
    const rt = str(values, "request-timeout");
    if (rt !== undefined) requestTimeoutMs = parseDuration("request-timeout", rt);
    const output = str(values, "output") ?? "table";
    if (output !== "table" && output !== "json")
      throw new UsageError(`-o/--output: "${output}" is not table or json`, hint);
    const format: OutputFormat = output;

    let key: Promise<string> | undefined;
    let client: RestClient | undefined;
    const ctx: Context = {
      io,
      address,
      format,
      requestTimeoutMs,
      helpHint: hint,
      apiKey: () => (key ??= resolveApiKey(values, io, hint)),
      async client() {
        client ??= createRestClient({
          baseUrl: address,
          apiKey: await ctx.apiKey(),
          timeoutMs: requestTimeoutMs,
        });
        return client;
      },
      print(json, render) {
        io.stdout(format === "json" ? `${JSON.stringify(json, null, 2)}\n` : render());
      },
    };
    return (await cmd.run(ctx, values, args)) ?? ExitCode.OK;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`pipectl: ${err.message}\nRun '${err.helpHint}' for usage.\n`);
      return ExitCode.USAGE;
    }
    const f = describeFailure(err, address, requestTimeoutMs);
    io.stderr(`pipectl: ${f.message}\n`);
    return f.exitCode;
  }
}
