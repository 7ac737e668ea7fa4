import { createHash } from "node:crypto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

// The part of Go's text/template (with sprig's functions) that PipeCD users write in the files
// that get secrets and attachments: `{{ .encryptedSecrets.password }}`, pipelines such as
// `{{ .attachment.config | b64enc }}` or `{{ b64enc .x | quote }}`, `{{-`/`-}}` trimming and
// comments. As PipeCD runs it (`missingkey=error`), a missing key is an error. Control structures
// (if, range, with, define, variables) are refused with a clear error instead of being guessed.

/** Template data: nested maps of strings. */
export type TemplateData = { readonly [key: string]: string | TemplateData };

type Value = string | number | boolean | TemplateData | undefined;

const FUNCS: Record<string, (...args: Value[]) => Value> = {
  b64enc: (s) => Buffer.from(str(s)).toString("base64"),
  b64dec: (s) => Buffer.from(str(s), "base64").toString("utf8"),
  quote: (...xs) => xs.map((x) => JSON.stringify(str(x))).join(" "),
  squote: (...xs) => xs.map((x) => `'${str(x)}'`).join(" "),
  upper: (s) => str(s).toUpperCase(),
  lower: (s) => str(s).toLowerCase(),
  trim: (s) => str(s).trim(),
  trimPrefix: (p, s) => (str(s).startsWith(str(p)) ? str(s).slice(str(p).length) : str(s)),
  trimSuffix: (p, s) =>
    str(p) !== "" && str(s).endsWith(str(p)) ? str(s).slice(0, -str(p).length) : str(s),
  replace: (from, to, s) => str(s).split(str(from)).join(str(to)),
  indent: (n, s) => indent(Number(n), str(s)),
  nindent: (n, s) => `\n${indent(Number(n), str(s))}`,
  default: (d: Value, v: Value) => (v === undefined || v === "" || v === false || v === 0 ? d : v),
  toString: (v: Value) => str(v),
  toJson: (v) => JSON.stringify(v ?? null),
  sha256sum: (s) => createHash("sha256").update(str(s)).digest("hex"),
  cat: (...xs) =>
    xs
      .filter((x) => x !== undefined && x !== "")
      .map(str)
      .join(" "),
  nospace: (s) => str(s).replace(/\s+/g, ""),
};

/** The functions templates may use (sprig's most used ones). */
export const TEMPLATE_FUNCTIONS = Object.freeze(Object.keys(FUNCS).sort());

const KEYWORDS = new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
]);

function str(v: Value): string {
  if (v === undefined) return "<no value>";
  if (typeof v === "object") throw new InvalidArgumentError("a map cannot be printed");
  return String(v);
}

function indent(n: number, s: string): string {
  const pad = " ".repeat(Math.max(0, n));
  return s
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

/**
 * Renders `text` as Go's text/template with `data` (`missingkey=error`). Throws an
 * InvalidArgument naming `file`, the line and what is wrong; the data's values never appear in
 * an error.
 */
export function renderGoTemplate(file: string, text: string, data: TemplateData): string {
  let out = "";
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf("{{", pos);
    if (open < 0) {
      out += text.slice(pos);
      break;
    }
    const line = text.slice(0, open).split("\n").length;
    const fail = (msg: string): never => {
      throw new InvalidArgumentError(`${file}:${line}: template: ${msg}`);
    };
    let before = text.slice(pos, open);
    let start = open + 2;
    if (
      text.startsWith("- ", start) ||
      text.startsWith("-\t", start) ||
      text.startsWith("-\n", start)
    ) {
      before = before.replace(/\s+$/, "");
      start += 1;
    }
    out += before;
    const close = text.indexOf("}}", start);
    if (close < 0) fail("unclosed action");
    let end = close;
    let after = close + 2;
    if (/\s-$/.test(text.slice(start, close))) {
      end = close - 1;
      after = close + 2;
      while (after < text.length && /\s/.test(text[after] ?? "")) after++;
    }
    const action = text.slice(start, end).trim();
    pos = after;
    if (action.startsWith("/*")) {
      if (!action.endsWith("*/")) fail("unclosed comment");
      continue;
    }
    const value = evalPipeline(action, data, fail);
    out += str(value);
  }
  return out;
}

type Token = {
  kind: "field" | "ident" | "string" | "number" | "bool" | "pipe" | "lparen" | "rparen";
  text: string;
};

function tokenize(action: string, fail: (m: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < action.length) {
    const c = action[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const single = ({ "|": "pipe", "(": "lparen", ")": "rparen" } as const)[c as "|"];
    if (single) {
      tokens.push({ kind: single, text: c });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < action.length && action[j] !== '"') j += action[j] === "\\" ? 2 : 1;
      if (j >= action.length) fail("unterminated quoted string");
      try {
        tokens.push({ kind: "string", text: JSON.parse(action.slice(i, j + 1)) as string });
      } catch {
        fail(`bad quoted string ${action.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else if (c === "`") {
      const j = action.indexOf("`", i + 1);
      if (j < 0) fail("unterminated raw string");
      tokens.push({ kind: "string", text: action.slice(i + 1, j) });
      i = j + 1;
    } else {
      const m = /^[^\s|()]+/.exec(action.slice(i));
      const word = m?.[0] ?? c;
      i += word.length;
      if (word.startsWith(".")) tokens.push({ kind: "field", text: word });
      else if (/^-?\d+(\.\d+)?$/.test(word)) tokens.push({ kind: "number", text: word });
      else if (word === "true" || word === "false") tokens.push({ kind: "bool", text: word });
      else if (word.startsWith("$"))
        fail(
          `variables (${word}) are not supported; use .encryptedSecrets.NAME or .attachment.NAME`,
        );
      else if (KEYWORDS.has(word))
        fail(
          `"${word}" is not supported in files that get secrets or attachments; only values and pipelines of functions are`,
        );
      else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) tokens.push({ kind: "ident", text: word });
      else fail(`unexpected "${word}"`);
    }
  }
  return tokens;
}

function evalPipeline(action: string, data: TemplateData, fail: (m: string) => never): Value {
  const tokens = tokenize(action, fail);
  if (tokens.length === 0) fail("missing value for command");
  let i = 0;
  const field = (path: string): Value => {
    if (path === ".") return data;
    let v: Value = data;
    let walked = "";
    for (const key of path.slice(1).split(".")) {
      if (typeof v !== "object" || v === null)
        fail(`can't evaluate field ${key} in ${walked || "."}: not a map`);
      const m: TemplateData = v;
      if (!Object.prototype.hasOwnProperty.call(m, key))
        fail(`map has no entry for key "${key}"${walked ? ` (in ${walked})` : ""}`);
      v = m[key];
      walked += `.${key}`;
    }
    return v;
  };
  const operand = (): Value => {
    const t = tokens[i++];
    if (!t) return fail("missing operand");
    switch (t.kind) {
      case "field":
        return field(t.text);
      case "string":
        return t.text;
      case "number":
        return Number(t.text);
      case "bool":
        return t.text === "true";
      case "lparen": {
        const v = pipeline();
        if (tokens[i++]?.kind !== "rparen") fail("unclosed left paren");
        return v;
      }
      case "ident": {
        const fn = FUNCS[t.text];
        if (!fn)
          fail(`function "${t.text}" not defined (functions: ${TEMPLATE_FUNCTIONS.join(", ")})`);
        return fn();
      }
      default:
        return fail(`unexpected "${t.text}"`);
    }
  };
  const command = (piped: Value[]): Value => {
    const t = tokens[i];
    if (t?.kind === "ident") {
      i++;
      const fn = FUNCS[t.text];
      if (!fn)
        fail(`function "${t.text}" not defined (functions: ${TEMPLATE_FUNCTIONS.join(", ")})`);
      const args: Value[] = [];
      while (i < tokens.length && tokens[i]?.kind !== "pipe" && tokens[i]?.kind !== "rparen")
        args.push(operand());
      try {
        return fn(...args, ...piped);
      } catch (err) {
        return fail(`error calling ${t.text}: ${(err as Error).message}`);
      }
    }
    if (piped.length > 0) fail(`can't give argument to non-function ${t?.text ?? ""}`);
    const v = operand();
    if (i < tokens.length && tokens[i]?.kind !== "pipe" && tokens[i]?.kind !== "rparen")
      fail(`can't give argument to non-function ${t?.text ?? ""}`);
    return v;
  };
  const pipeline = (): Value => {
    let v = command([]);
    while (tokens[i]?.kind === "pipe") {
      i++;
      v = command([v]);
    }
    return v;
  };
  const v = pipeline();
  if (i < tokens.length) fail(`unexpected "${tokens[i]?.text ?? ""}"`);
  return v;
}
