// Renders field errors the way apimachinery's field.Error.ErrorBody and apierrors.NewInvalid do,
// byte for byte: Go `%q` for strings, `%v` for numbers and bools, JSON for maps and slices.
import type { FieldError, FieldErrorType } from "./types.js";

const TWO_63 = 2 ** 63;

/** Path of an error without a field, as Go prints a nil *field.Path. */
export const NIL_PATH = "<nil>";

/** True when a JSON number decodes to an int64 on the apiserver (integral, in range). */
export function isInt64(v: number): boolean {
  return Number.isInteger(v) && v >= -TWO_63 && v < TWO_63;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote (`%q`): printable runes kept, everything else escaped Go-style. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\x07":
        out += "\\a";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\v":
        out += "\\v";
        continue;
    }
    // A lone surrogate cannot come from Go's JSON decoder, which turns it into U+FFFD.
    if (cp >= 0xd800 && cp <= 0xdfff) out += "\ufffd";
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x80) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + '"';
}

/** Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e+06 on. */
export function goFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mantissa = "", expText = "0"] = v.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return String(v);
}

/** `%v` of a JSON number as the apiserver decoded it: int64 when integral, else float64. */
export function goNumber(v: number): string {
  return isInt64(v) ? String(v) : goFloat(v);
}

/** Go's encoding/json output: sorted map keys, HTML-safe escapes. */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goJsonString(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => goJson(x)).join(",")}]`;
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${goJsonString(k)}:${goJson(x)}`).join(",")}}`;
  }
  return "null";
}

function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (cp < 0x20 || ch === "<" || ch === ">" || ch === "&" || cp === 0x2028 || cp === 0x2029)
      out += "\\u" + cp.toString(16).padStart(4, "0");
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

/** A bad value as field.Error.ErrorBody prints it. */
export function renderValue(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return goQuote(v);
  if (typeof v === "number") return goNumber(v);
  if (typeof v === "boolean") return String(v);
  return goJson(v);
}

/** The StatusCause field of a kube-openapi error name (leading dot trimmed, empty → `<nil>`). */
export function fieldOf(name: string): string {
  if (name === "" || name === ".") return NIL_PATH;
  return name.startsWith(".") ? name.slice(1) : name;
}

function make(type: FieldErrorType, field: string, message: string): FieldError {
  return { type, field, message };
}

/** field.Invalid: `Invalid value: <v>: <detail>`. */
export function invalid(field: string, value: unknown, detail: string): FieldError {
  return make("FieldValueInvalid", field, `Invalid value: ${renderValue(value)}: ${detail}`);
}

/** field.TypeInvalid: rendered like Invalid, reason FieldValueTypeInvalid. */
export function typeInvalid(field: string, value: unknown, detail: string): FieldError {
  return make("FieldValueTypeInvalid", field, `Invalid value: ${renderValue(value)}: ${detail}`);
}

/** field.Required: `Required value` (plus detail when given). */
export function required(field: string, detail = ""): FieldError {
  return make("FieldValueRequired", field, detail ? `Required value: ${detail}` : "Required value");
}

/** field.Forbidden: `Forbidden: <detail>`. */
export function forbidden(field: string, detail: string): FieldError {
  return make("FieldValueForbidden", field, detail ? `Forbidden: ${detail}` : "Forbidden");
}

/** field.Duplicate: `Duplicate value: <v>`. */
export function duplicate(field: string, value: unknown): FieldError {
  return make("FieldValueDuplicate", field, `Duplicate value: ${renderValue(value)}`);
}

/** field.NotSupported: `Unsupported value: <v>: supported values: "a", "b"`. */
export function notSupported(field: string, value: unknown, allowed: unknown[]): FieldError {
  // apiextensions renders non-string enum members as JSON before quoting them.
  const values = allowed.map((a) => goQuote(typeof a === "string" ? a : goJson(a)));
  const detail = values.length > 0 ? `: supported values: ${values.join(", ")}` : "";
  return make("FieldValueNotSupported", field, `Unsupported value: ${renderValue(value)}${detail}`);
}

/** field.TooLong (apimachinery ≥1.32): the value is omitted from the message. */
export function tooLong(field: string, max: number): FieldError {
  const detail =
    max >= 0 ? `may not be more than ${max} ${max === 1 ? "byte" : "bytes"}` : "value is too long";
  return make("FieldValueTooLong", field, `Too long: ${detail}`);
}

/** field.TooMany: `Too many: <n>: must have at most <max> items`. */
export function tooMany(field: string, actual: number, max: number): FieldError {
  const detail =
    max >= 0 ? `must have at most ${max} ${max === 1 ? "item" : "items"}` : "has too many items";
  return make("FieldValueTooMany", field, `Too many: ${actual}: ${detail}`);
}

/** Message of a 422 Status for these errors, e.g. `VirtualService.networking.istio.io "web" is invalid: spec.http[0].route[0].weight: Invalid value: ...` (single) or `... is invalid: [e1, e2]` (several). */
export function invalidMessage(
  kind: string,
  group: string,
  name: string,
  errors: FieldError[],
): string {
  const qualified = group === "" ? kind : `${kind}.${group}`;
  const head = `${qualified} ${goQuote(name)} is invalid`;
  // errors.ToAggregate drops repeated messages before joining them.
  const messages = [...new Set(errors.map((e) => `${e.field}: ${e.message}`))];
  if (messages.length === 0) return head;
  return `${head}: ${messages.length === 1 ? messages[0] : `[${messages.join(", ")}]`}`;
}

/** Message of the 400 a `fieldValidation=Strict` write gets for pruned fields: `strict decoding error: unknown field "spec.foo", ...`. */
export function strictDecodingMessage(unknownFields: string[]): string {
  // The decoder formats each path with `unknown field "%s"`, not %q.
  return `strict decoding error: ${unknownFields.map((f) => `unknown field "${f}"`).join(", ")}`;
}
