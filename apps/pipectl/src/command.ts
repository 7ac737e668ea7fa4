import type { RestClient } from "@pipecd-ts/rest-api";
import type { FlagSpec, FlagValues } from "./args.js";
import type { ExitCodeValue } from "./errors.js";

/** Where pipectl writes, what environment it reads, and whether stderr is a terminal. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Live progress redraws one line on a terminal and prints changes otherwise. */
  stderrIsTTY: boolean;
  /** Reads all of stdin (`piped encrypt`); rejects past a size limit. */
  readStdin(): Promise<string>;
  env: Readonly<Record<string, string | undefined>>;
}

/** `-o table` (for people) or `-o json` (a stable contract for scripts). */
export type OutputFormat = "table" | "json";

/** What a command gets to do its work. */
export interface Context {
  io: Io;
  /** The control plane's REST base URL. */
  address: string;
  format: OutputFormat;
  requestTimeoutMs: number;
  /** The REST client, with the API key resolved (a missing key is a usage error). */
  client(): Promise<RestClient>;
  /** The API key (for the SSE stream, which the typed client does not cover). */
  apiKey(): Promise<string>;
  /** "pipectl <group> <verb> --help", for usage errors. */
  helpHint: string;
  /** Prints `json` (pretty, one document) with -o json, or what `table()` renders otherwise. */
  print(json: unknown, table: () => string): void;
}

/** A positional argument of a command. */
export interface ArgSpec {
  name: string;
  help: string;
}

/** One `pipectl <group> <verb>` command. */
export interface CommandSpec {
  group: string;
  verb: string;
  summary: string;
  args?: ArgSpec[];
  flags?: Record<string, FlagSpec>;
  /** More help: behaviour, JSON output shape. */
  details?: string;
  run(ctx: Context, values: FlagValues, args: string[]): Promise<ExitCodeValue | void>;
}

/** A command group (`piped`, `apikey`, …). */
export interface GroupSpec {
  name: string;
  summary: string;
  commands: CommandSpec[];
  /** `pipectl <name> [flags]` runs its only command (PipeCD's `pipectl plan-preview`). */
  single?: boolean;
}
