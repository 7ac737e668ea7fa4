// OpenAPI value validation as kube-openapi's SchemaValidator runs it for a custom resource, with
// errors converted as apiextensions' kubeOpenAPIResultToFieldErrors does. Validator order per node
// (type, anyOf/oneOf/allOf/not, string, format, number, array, enum, object) and message texts follow
// k8s.io/kube-openapi/pkg/validation/validate; every validator runs, none short-circuits another.
import { effectiveFormat, checkFormat } from "./formats.js";
import {
  NIL_PATH,
  fieldOf,
  goFloat,
  goQuote,
  invalid,
  isInt64,
  notSupported,
  required,
  tooLong,
  tooMany,
  typeInvalid,
} from "./render.js";
import { isObject, joinPath, type JsonObject } from "./json.js";
import type { FieldError, JSONSchemaProps } from "./types.js";

type Kind = "string" | "boolean" | "integer" | "number" | "array" | "object";

/** The JSON type the apiserver sees: integral numbers decode to int64, others to float64. */
function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
    case "bigint":
      return typeof v === "bigint" || isInt64(v) ? "integer" : "number";
    default:
      return Array.isArray(v) ? "array" : "object";
  }
}

/** The (schema type, Go format) pair kube-openapi's typeValidator infers for a value. */
const DATA_FORMAT: Record<Kind, string> = {
  string: "",
  boolean: "",
  integer: "int64",
  number: "float64",
  array: "",
  object: "",
};

interface NodeInfo {
  /** `x-kubernetes-int-or-string` becomes the type list [integer, string]. */
  types: string[];
  typeName: string;
  format: string;
}

const infoCache = new WeakMap<JSONSchemaProps, NodeInfo>();

function infoOf(s: JSONSchemaProps): NodeInfo {
  let info = infoCache.get(s);
  if (!info) {
    const types = s["x-kubernetes-int-or-string"] ? ["integer", "string"] : s.type ? [s.type] : [];
    info = { types, typeName: types.join(","), format: effectiveFormat(s.format) };
    infoCache.set(s, info);
  }
  return info;
}

const regexCache = new Map<string, RegExp | null>();

/** Compiles a Go (RE2) pattern as a JS RegExp; null when JS cannot express it (then it is not enforced). */
function patternOf(pattern: string): RegExp | null {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    let source = pattern;
    let flags = "u";
    // RE2 leading flag groups such as (?i) or (?s) have no JS inline form; lift them into flags.
    const lead = /^\(\?([imsU]+)\)/.exec(source);
    if (lead?.[1]) {
      source = source.slice(lead[0].length);
      for (const f of lead[1]) if (f !== "U" && !flags.includes(f)) flags += f;
    }
    try {
      re = new RegExp(source, flags);
    } catch {
      try {
        re = new RegExp(source, flags.replace("u", ""));
      } catch {
        re = null;
      }
    }
    regexCache.set(pattern, re);
  }
  return re;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

/** field.TypeInvalid as kube-openapi's InvalidType reports it: the bad value shown is the *type name*. */
function typeError(path: string, typeName: string, got: string): FieldError {
  return typeInvalid(
    fieldOf(path),
    got,
    `${path} in body must be of type ${typeName}: ${goQuote(got)}`,
  );
}

function checkType(info: NodeInfo, kind: Kind, path: string, out: FieldError[]): void {
  const { types, format } = info;
  const dataFormat = DATA_FORMAT[kind];
  const isIntFloat = kind === "integer" && types.includes("number");
  const numeric = types.includes("number") || types.includes("integer");
  if (
    kind !== "string" &&
    kind !== "array" &&
    format !== "" &&
    !(types.includes(kind) || dataFormat === format || isIntFloat)
  ) {
    out.push(typeError(path, format, dataFormat));
    return;
  }
  // A string format on a non-numeric type skips the type check for strings and arrays (kube-openapi quirk).
  if (!numeric && format !== "" && (kind === "string" || kind === "array")) return;
  if (!(types.includes(kind) || isIntFloat)) out.push(typeError(path, info.typeName, kind));
}

/** One composite-keyword error: kube-openapi reports it without a field, so the cause field is `<nil>`. */
function compositeError(detail: string): FieldError {
  return invalid(NIL_PATH, "", detail);
}

function checkComposition(
  s: JSONSchemaProps,
  data: unknown,
  path: string,
  out: FieldError[],
): void {
  if (s.anyOf && s.anyOf.length > 0) {
    let best: FieldError[] | undefined;
    let ok = false;
    for (const sub of s.anyOf) {
      const r: FieldError[] = [];
      validateValue(sub, data, path, r);
      if (r.length === 0) {
        ok = true;
        break;
      }
      // kube-openapi keeps the failure with the most passed checks; the first failure stands in for it.
      best ??= r;
    }
    if (!ok) {
      out.push(compositeError(`${goQuote(path)} must validate at least one schema (anyOf)`));
      if (best) out.push(...best);
    }
  }
  if (s.oneOf && s.oneOf.length > 0) {
    let best: FieldError[] | undefined;
    let valid = 0;
    for (const sub of s.oneOf) {
      const r: FieldError[] = [];
      validateValue(sub, data, path, r);
      if (r.length === 0) {
        valid++;
        best = undefined;
        continue;
      }
      if (valid === 0) best ??= r;
    }
    if (valid !== 1) {
      const more = valid === 0 ? "Found none valid" : `Found ${valid} valid alternatives`;
      out.push(
        compositeError(`${goQuote(path)} must validate one and only one schema (oneOf). ${more}`),
      );
      if (best) out.push(...best);
    }
  }
  if (s.allOf && s.allOf.length > 0) {
    let valid = 0;
    for (const sub of s.allOf) {
      const r: FieldError[] = [];
      validateValue(sub, data, path, r);
      if (r.length === 0) valid++;
      out.push(...r);
    }
    if (valid !== s.allOf.length) {
      out.push(
        compositeError(
          `${goQuote(path)} must validate all the schemas (allOf)${valid === 0 ? ". None validated" : ""}`,
        ),
      );
    }
  }
  if (s.not) {
    const r: FieldError[] = [];
    validateValue(s.not, data, path, r);
    if (r.length === 0)
      out.push(compositeError(`${goQuote(path)} must not validate the schema (not)`));
  }
}

function checkString(
  s: JSONSchemaProps,
  info: NodeInfo,
  data: string,
  path: string,
  out: FieldError[],
): void {
  const field = fieldOf(path);
  // kube-openapi's stringValidator stops at its first failure; lengths count runes, not UTF-16 units.
  const runes = s.maxLength !== undefined || s.minLength !== undefined ? [...data].length : 0;
  if (s.maxLength !== undefined && runes > s.maxLength) {
    out.push(tooLong(field, s.maxLength));
  } else if (s.minLength !== undefined && runes < s.minLength) {
    out.push(invalid(field, data, `${path} in body should be at least ${s.minLength} chars long`));
  } else if (s.pattern) {
    checkPattern(s.pattern, data, path, out);
  }
  if (info.format !== "" && !checkFormat(info.format, data)) {
    out.push(
      typeInvalid(field, data, `${path} in body must be of type ${info.format}: ${goQuote(data)}`),
    );
  }
}

function checkPattern(pattern: string, data: string, path: string, out: FieldError[]): void {
  const re = patternOf(pattern);
  if (re && !re.test(data)) {
    out.push(invalid(fieldOf(path), data, `${path} in body should match '${pattern}'`));
  }
}

function checkNumber(
  s: JSONSchemaProps,
  data: number,
  isInt: boolean,
  path: string,
  out: FieldError[],
): void {
  // Integers compare against the bound truncated to int64, floats against the float64 bound.
  if (s.minimum !== undefined) {
    const min = isInt ? Math.trunc(s.minimum) : s.minimum;
    const excl = s.exclusiveMinimum === true;
    if (excl ? data <= min : data < min) {
      const bound = isInt ? String(min) : goFloat(min);
      out.push(
        invalid(
          fieldOf(path),
          data,
          `${path} in body should be greater than${excl ? "" : " or equal to"} ${bound}`,
        ),
      );
    }
  }
  if (s.maximum !== undefined) {
    const max = isInt ? Math.trunc(s.maximum) : s.maximum;
    const excl = s.exclusiveMaximum === true;
    if (excl ? data >= max : data > max) {
      const bound = isInt ? String(max) : goFloat(max);
      out.push(
        invalid(
          fieldOf(path),
          data,
          `${path} in body should be less than${excl ? "" : " or equal to"} ${bound}`,
        ),
      );
    }
  }
}

function checkArray(s: JSONSchemaProps, data: unknown[], path: string, out: FieldError[]): void {
  if (s.items) {
    const items = s.items;
    data.forEach((v, i) => validateValue(items, v, `${path}[${i}]`, out));
  }
  if (s.minItems !== undefined && data.length < s.minItems) {
    out.push(
      invalid(
        fieldOf(path),
        data.length,
        `${path} in body should have at least ${s.minItems} items`,
      ),
    );
  }
  if (s.maxItems !== undefined && data.length > s.maxItems) {
    out.push(tooMany(fieldOf(path), data.length, s.maxItems));
  }
}

function checkObject(s: JSONSchemaProps, data: JsonObject, path: string, out: FieldError[]): void {
  const keys = Object.keys(data);
  // Property-count failures end the object checks, as in kube-openapi's objectValidator.
  if (s.minProperties !== undefined && keys.length < s.minProperties) {
    out.push(
      invalid(
        fieldOf(path),
        keys.length,
        `${path} in body should have at least ${s.minProperties} properties`,
      ),
    );
    return;
  }
  if (s.maxProperties !== undefined && keys.length > s.maxProperties) {
    out.push(tooMany(fieldOf(path), keys.length, s.maxProperties));
    return;
  }
  const props = s.properties;
  if (typeof s.additionalProperties === "object") {
    for (const k of keys) {
      if (props && Object.hasOwn(props, k)) continue;
      validateValue(s.additionalProperties, data[k], `${path}.${k}`, out);
    }
  }
  if (props) {
    // kube-openapi walks the declared properties in Go map order (random); the object's own key
    // order is as faithful, deterministic, and cheaper than walking every declared property.
    for (const k of keys) {
      const ps = Object.hasOwn(props, k) ? props[k] : undefined;
      if (ps) validateValue(ps, data[k], joinPath(path, k), out);
    }
  }
  for (const k of s.required ?? []) {
    if (!Object.hasOwn(data, k)) out.push(required(fieldOf(`${path}.${k}`)));
  }
}

/** Validates one value against one schema node (recursively), appending field errors in apiserver order. */
export function validateValue(
  s: JSONSchemaProps,
  data: unknown,
  path: string,
  out: FieldError[],
): void {
  const info = infoOf(s);
  if (data === null || data === undefined) {
    if (info.types.length > 0 && !s.nullable) out.push(typeError(path, info.typeName, "null"));
    if (s.enum && s.enum.length > 0) out.push(notSupported(fieldOf(path), null, s.enum));
    return;
  }
  const kind = kindOf(data);
  if (info.types.length > 0 || info.format !== "") checkType(info, kind, path, out);
  if (s.anyOf ?? s.oneOf ?? s.allOf ?? s.not) checkComposition(s, data, path, out);
  switch (kind) {
    case "string":
      checkString(s, info, data as string, path, out);
      break;
    case "integer":
    case "number":
      checkNumber(s, Number(data), kind === "integer", path, out);
      break;
    case "array":
      checkArray(s, data as unknown[], path, out);
      break;
    case "boolean":
    case "object":
      break;
  }
  if (s.enum && s.enum.length > 0 && !s.enum.some((e) => deepEqual(data, e))) {
    out.push(notSupported(fieldOf(path), data, s.enum));
  }
  if (kind === "object") checkObject(s, data as JsonObject, path, out);
}
