import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from "yaml";
import { readFile } from "node:fs/promises";
import { formatConfigWarning } from "@pipecd-ts/model";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** One problem found in a config file. */
export interface ConfigIssue {
  /** Field path such as `spec.users[1].role`. */
  path: string;
  message: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
}

/** Thrown when a config file is invalid; lists every problem with its path and line. */
export class ConfigError extends InvalidArgumentError {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `invalid config ${file}:\n` +
        issues.map((i) => `  ${formatConfigWarning({ file, ...i })}`).join("\n"),
    );
  }
}

/** A parsed YAML document that can tell the line of any field path. */
export class YamlSource {
  readonly value: unknown;
  private readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.lines = new LineCounter();
    this.doc = parseDocument(text, {
      lineCounter: this.lines,
      uniqueKeys: true,
      prettyErrors: false,
    });
    const errs = this.doc.errors;
    if (errs.length > 0) {
      throw new ConfigError(
        file,
        errs.map((e) => ({
          path: "",
          message: e.message.split("\n")[0] ?? e.message,
          line: e.linePos?.[0]?.line,
        })),
      );
    }
    this.value = this.doc.toJS() as unknown;
  }

  /** 1-based line of the node at `path` (segments of keys and indexes), if present. */
  lineOf(path: (string | number)[]): number | undefined {
    let node: unknown = this.doc.contents;
    let lastRange: [number, number, number] | undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
        if (!pair) break;
        // The key's line: for a block mapping or list value that is where the field is written.
        const key = pair.key as Node;
        if (key.range) lastRange = key.range;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.items[seg];
        const r = (node as Node | undefined)?.range;
        if (r) lastRange = r;
      } else break;
    }
    return lastRange ? this.lines.linePos(lastRange[0]).line : undefined;
  }
}

/**
 * Collects issues (which make the file invalid) and warnings (accepted, but the user must be
 * told: an ignored key, a field that has no effect yet) while a loader walks a config value.
 */
export class IssueCollector {
  readonly issues: ConfigIssue[] = [];
  readonly #warnings: ConfigIssue[] = [];
  constructor(private readonly src?: YamlSource) {}

  add(path: (string | number)[], message: string): void {
    this.issues.push(this.#issue(path, message));
  }

  warn(path: (string | number)[], message: string): void {
    this.#warnings.push(this.#issue(path, message));
  }

  /** The warnings recorded, in file order (frozen). */
  warnings(): readonly ConfigIssue[] {
    return Object.freeze(inFileOrder(this.#warnings).map((w) => Object.freeze(w)));
  }

  /** Throws a ConfigError listing every issue added, in file order, if there is any. */
  throwIfAny(file: string): void {
    if (this.issues.length === 0) return;
    throw new ConfigError(file, inFileOrder(this.issues));
  }

  #issue(path: (string | number)[], message: string): ConfigIssue {
    const line = this.src?.lineOf(path);
    return { path: formatPath(path), message, ...(line !== undefined ? { line } : {}) };
  }
}

function inFileOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.i - b.i)
    .map((x) => x.issue);
}

/** Formats `["spec","users",1,"role"]` as `spec.users[1].role`. */
export function formatPath(path: (string | number)[]): string {
  let s = "";
  for (const seg of path) s += typeof seg === "number" ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go-style duration ("1h30m", "10s", "500ms", "1.5h", "6h"; units ns, us, µs, ms, s, m,
 * h) into whole milliseconds, as PipeCD's config does. Returns undefined for anything else
 * (including negative durations).
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? NaN);
    pos = re.lastIndex;
  }
  return pos === 0 || !Number.isFinite(total) ? undefined : Math.round(total);
}

/** Reads a config file; a missing or unreadable file is an InvalidArgument naming the path. */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(`cannot read config ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
