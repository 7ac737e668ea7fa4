// Renders a metrics query template the way PipeCD's `metricsAnalyzer.renderQuery` does with Go's
// text/template (default options), for the subset that queries use: field references such as
// `{{ .VariantCustomArgs.pod }}`, trim markers and comments. Anything else is refused rather than
// half-implemented. Error texts follow Go's so a user can match them against PipeCD's docs.
import { Buffer } from "node:buffer";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** What a query template can reference (PipeCD `argsTemplate`; §2.3 of the feature notes). */
export interface QueryData {
  readonly App: { readonly Name: string; readonly Env: string };
  readonly K8s: { readonly Namespace: string };
  readonly Variant: { readonly Name: string };
  readonly VariantCustomArgs: Readonly<Record<string, string>>;
  readonly AppCustomArgs: Readonly<Record<string, string>>;
}

// Go's name for the template; it appears in every error message.
const NAME = "AnalysisTemplate";

/** A value as Go's reflection sees it: a struct (fixed fields), a map, a string, or nothing. */
type Value =
  | { readonly kind: "struct"; readonly type: string; readonly fields: ReadonlyMap<string, Value> }
  | { readonly kind: "map"; readonly entries: Readonly<Record<string, string>> }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "invalid" };

/**
 * Renders `template` against `data` like Go's `text/template`: `{{ .A.B }}` prints the field,
 * a key missing from a map prints `<no value>`, and `{{-` / `-}}` trim the whitespace beside them.
 * Throws `InvalidArgumentError` for a field the data does not have (Go fails to execute),
 * an unclosed action, or any action other than a field reference or comment.
 */
export function renderQuery(template: string, data: QueryData): string {
  const root = rootValue(data);
  let out = "";
  let i = 0;
  for (;;) {
    const open = template.indexOf("{{", i);
    if (open < 0) return out + template.slice(i);
    let text = template.slice(i, open);
    let p = open + 2;
    if (template[p] === "-" && isSpace(template[p + 1])) {
      text = text.replace(/[ \t\r\n]+$/, "");
      p += 2;
    }
    out += text;

    if (template.startsWith("/*", p)) {
      // A comment: `{{/* … */}}`, optionally with trim markers, prints nothing.
      const end = template.indexOf("*/", p + 2);
      if (end < 0) throw parseError(template, open, "unclosed comment");
      const [close, trimRight] = rightDelim(template, end + 2);
      if (close < 0) throw parseError(template, open, "comment ends before closing delimiter");
      i = trimRight ? skipSpace(template, close) : close;
      continue;
    }

    const close = template.indexOf("}}", p);
    if (close < 0) throw parseError(template, open, "unclosed action");
    let content = template.slice(p, close);
    // `x -}}`: the marker needs a space before it, one the left marker did not consume.
    const trimRight = /[ \t\r\n]-$/.test(content);
    if (trimRight) content = content.slice(0, -2);
    i = trimRight ? skipSpace(template, close + 2) : close + 2;
    out += evalAction(template, p, content, root);
  }
}

/** At `pos`, `}}` or ` -}}`: the index after it and whether it trims; else `[-1, false]`. */
function rightDelim(template: string, pos: number): [number, boolean] {
  if (template.startsWith("}}", pos)) return [pos + 2, false];
  if (isSpace(template[pos]) && template.startsWith("-}}", pos + 1)) return [pos + 4, true];
  return [-1, false];
}

function skipSpace(template: string, i: number): number {
  while (i < template.length && isSpace(template[i])) i++;
  return i;
}

function evalAction(template: string, start: number, content: string, root: Value): string {
  const lead = /^[ \t\r\n]*/.exec(content)![0].length;
  const expr = content.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
  if (expr === ".") return print(root);
  if (!/^(?:\.[\p{L}_][\p{L}\p{Nd}_]*)+$/u.test(expr)) {
    throw new InvalidArgumentError(
      `failed to parse query template: ${location(template, start + lead)}: unsupported action ` +
        `{{${content}}}: only field references such as {{ .VariantCustomArgs.key }} are supported`,
    );
  }
  // Go reports a chain `.A.B…` at its second field (parse.Tree.operand builds it from there).
  const second = expr.indexOf(".", 1);
  const at = start + lead + (second < 0 ? 0 : second);
  let v = root;
  for (const name of expr.slice(1).split(".")) {
    switch (v.kind) {
      case "struct": {
        const field = v.fields.get(name);
        if (field === undefined) {
          throw execError(template, at, expr, `can't evaluate field ${name} in type ${v.type}`);
        }
        v = field;
        break;
      }
      case "map":
        // Go's default `missingkey=default`: an absent key is the invalid value.
        v = Object.hasOwn(v.entries, name) ? { kind: "string", value: v.entries[name]! } : INVALID;
        break;
      case "string":
        throw execError(template, at, expr, `can't evaluate field ${name} in type string`);
      case "invalid":
        // A field of nothing is nothing, as in Go.
        break;
    }
  }
  return print(v);
}

const INVALID: Value = { kind: "invalid" };

function rootValue(d: QueryData): Value {
  const struct = (type: string, fields: [string, Value][]): Value => ({
    kind: "struct",
    type,
    fields: new Map(fields),
  });
  const str = (value: string): Value => ({ kind: "string", value });
  // Field order is Go's declaration order; it shows when a whole struct is printed.
  return struct("analysis.argsTemplate", [
    [
      "App",
      struct("analysis.appArgs", [
        ["Name", str(d.App.Name)],
        ["Env", str(d.App.Env)],
      ]),
    ],
    ["K8s", struct("analysis.k8sArgs", [["Namespace", str(d.K8s.Namespace)]])],
    ["Variant", struct("analysis.variantArgs", [["Name", str(d.Variant.Name)]])],
    ["VariantCustomArgs", { kind: "map", entries: d.VariantCustomArgs }],
    ["AppCustomArgs", { kind: "map", entries: d.AppCustomArgs }],
  ]);
}

/** Go's `fmt.Print` of the value: `{a b}` for structs, `map[k:v]` with sorted keys for maps. */
function print(v: Value): string {
  switch (v.kind) {
    case "string":
      return v.value;
    case "invalid":
      return "<no value>";
    case "struct":
      return `{${[...v.fields.values()].map(print).join(" ")}}`;
    case "map": {
      const keys = Object.keys(v.entries).sort(byCodePoint);
      return `map[${keys.map((k) => `${k}:${v.entries[k]}`).join(" ")}]`;
    }
  }
}

// Go sorts string keys bytewise, which for UTF-8 is code-point order (not UTF-16 order).
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let k = 0; k < Math.min(x.length, y.length); k++) {
    const d = x[k]!.codePointAt(0)! - y[k]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}

// Go's `Tree.ErrorContext`: line is 1-based, the column a 0-based byte offset in that line.
function location(template: string, pos: number): string {
  const before = template.slice(0, pos);
  const line = before.split("\n").length;
  const col = Buffer.byteLength(before.slice(before.lastIndexOf("\n") + 1), "utf8");
  return `template: ${NAME}:${line}:${col}`;
}

function execError(template: string, pos: number, expr: string, msg: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `failed to apply template: ${location(template, pos)}: executing "${NAME}" at <${expr}>: ${msg}`,
  );
}

function parseError(template: string, pos: number, msg: string): InvalidArgumentError {
  const line = template.slice(0, pos).split("\n").length;
  return new InvalidArgumentError(
    `failed to parse query template: template: ${NAME}:${line}: ${msg}`,
  );
}
