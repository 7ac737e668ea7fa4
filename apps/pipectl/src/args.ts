import { UsageError } from "./errors.js";

/** One flag of a command, as `node:util` parseArgs takes it plus its help text. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in help, e.g. "ID". */
  arg?: string;
  help: string;
}

/** Parsed flag values (parseArgs' `values`). */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The flags every command accepts (before or after the command words). */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  address: {
    type: "string",
    arg: "URL",
    help: "control plane REST address (env PIPECD_ADDRESS; default http://127.0.0.1:8080)",
  },
  "api-key": { type: "string", arg: "KEY", help: "API key (env PIPECD_API_KEY)" },
  "api-key-file": {
    type: "string",
    arg: "FILE",
    help: "read the API key from FILE (env PIPECD_API_KEY_FILE)",
  },
  output: { type: "string", short: "o", arg: "FORMAT", help: "table (default) or json" },
  "request-timeout": {
    type: "string",
    arg: "DURATION",
    help: "timeout of each request to the control plane (default 30s)",
  },
  help: { type: "boolean", short: "h", help: "show help" },
};

/** `--limit` and `--cursor` of list commands (paging through `cursor` of the JSON output). */
export const PAGE_FLAGS: Record<string, FlagSpec> = {
  limit: { type: "string", arg: "N", help: "page size (1-500)" },
  cursor: { type: "string", arg: "CURSOR", help: "next page, from a previous -o json cursor" },
};

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration such as `90s`, `2m`, `1m30s`, `500ms` or `1h` (Go's syntax, as PipeCD's
 * configs use) into milliseconds. A bare number is refused: the unit is not guessed.
 */
export function parseDuration(flag: string, text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
    matched = re.lastIndex;
  }
  if (!text || matched !== text.length || total <= 0)
    throw new UsageError(
      `--${flag}: "${text}" is not a positive duration (examples: 30s, 2m, 1m30s, 500ms, 1h)`,
    );
  return Math.round(total);
}

/** A string flag's value (the last one given), or undefined. */
export function str(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    return typeof last === "string" ? last : undefined;
  }
  return typeof v === "string" ? v : undefined;
}

/** A string flag that must be given. */
export function required(values: FlagValues, name: string, hint: string): string {
  const v = str(values, name);
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`, hint);
  return v;
}

/** Every value of a repeatable string flag. */
export function list(values: FlagValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
}

/** A boolean flag. */
export function flag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}

/** A positive integer flag, or undefined. */
export function int(values: FlagValues, name: string, hint: string): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw new UsageError(`--${name}: "${v}" is not a whole number`, hint);
  return n;
}

/** One of a closed set of words (case-insensitive); returns the canonical spelling. */
export function oneOf<T extends string>(
  name: string,
  value: string,
  choices: readonly T[],
  hint: string,
): T {
  const found = choices.find((c) => c.toLowerCase() === value.toLowerCase());
  if (!found)
    throw new UsageError(`--${name}: "${value}" is not one of ${choices.join(", ")}`, hint);
  return found;
}

/** `key=value` (or `key:value`) labels into a map. */
export function labels(values: FlagValues, name: string, hint: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list(values, name)) {
    const eq = l.indexOf("=");
    const i = eq > 0 ? eq : l.indexOf(":");
    if (i <= 0) throw new UsageError(`--${name}: "${l}" is not key=value`, hint);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}
