// x-kubernetes-validations without a CEL interpreter: the rule strings the Istio VirtualService,
// DestinationRule and Gateway CRDs use are recognised by exact text (plus the
// `(has(self.a) ? 1 : 0) + ... <= 1` "at most one of" family) and evaluated natively. Any other
// rule is skipped; unsupportedRules() lists them so the server can say what it does not enforce.
import { parseGoDuration } from "./duration.js";
import { duplicate, fieldOf, forbidden, invalid, required } from "./render.js";
import { additionalOf, isObject, joinPath, propOf } from "./json.js";
import type { FieldError, JSONSchemaProps, ValidationRule } from "./types.js";

/** What one rule says about one value. `skip` when the value has a shape the rule cannot see. */
type Outcome = "pass" | "fail" | "skip" | { error: string };
type Check = (self: unknown) => Outcome;

const ONE_MS = 1_000_000n;

function verdict(ok: boolean): Outcome {
  return ok ? "pass" : "fail";
}

// Rule text exactly as it appears in istio/api kubernetes/customresourcedefinitions.gen.yaml.
const EXACT: ReadonlyMap<string, Check> = new Map<string, Check>([
  [
    "duration(self) >= duration('1ms')",
    (self) => {
      if (typeof self !== "string") return "skip";
      const ns = parseGoDuration(self);
      // cel-go's string→duration conversion error text, which the apiserver wraps.
      if (ns === undefined)
        return { error: "type conversion error from 'string' to 'google.protobuf.Duration'" };
      return verdict(ns >= ONE_MS);
    },
  ],
  [
    'self.all(key, !key.contains("*"))',
    (self) => (isObject(self) ? verdict(Object.keys(self).every((k) => !k.includes("*"))) : "skip"),
  ],
  [
    "self.all(key, key.size() != 0)",
    (self) => (isObject(self) ? verdict(Object.keys(self).every((k) => k.length !== 0)) : "skip"),
  ],
  [
    '!self.contains("*")',
    (self) => (typeof self === "string" ? verdict(!self.includes("*")) : "skip"),
  ],
]);

const HAS_TERM = /^\(has\(self\.([A-Za-z_][A-Za-z0-9_]*)\) \? 1 : 0\)$/;

/** `(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) [+ ...] <= 1`: at most one of the fields is set. */
function atMostOneOf(rule: string): Check | undefined {
  const m = /^(.*) <= 1$/.exec(rule);
  if (!m?.[1]) return undefined;
  const fields: string[] = [];
  for (const term of m[1].split(" + ")) {
    const t = HAS_TERM.exec(term);
    if (!t?.[1]) return undefined;
    fields.push(t[1]);
  }
  if (fields.length < 2) return undefined;
  return (self) =>
    isObject(self) ? verdict(fields.filter((f) => Object.hasOwn(self, f)).length <= 1) : "skip";
}

const compiled = new Map<string, Check | null>();

function compile(rule: string): Check | undefined {
  const text = rule.trim();
  let check = compiled.get(text);
  if (check === undefined) {
    check = EXACT.get(text) ?? atMostOneOf(text) ?? null;
    compiled.set(text, check);
  }
  return check ?? undefined;
}

/** The CEL rules of a schema node that kube-sim can evaluate, with their checks. */
function rulesOf(s: JSONSchemaProps): { rule: ValidationRule; check: Check }[] {
  const out: { rule: ValidationRule; check: Check }[] = [];
  for (const rule of s["x-kubernetes-validations"] ?? []) {
    const check = compile(rule.rule);
    if (check) out.push({ rule, check });
  }
  return out;
}

function ruleErrorString(rule: ValidationRule): string {
  return (rule.message ?? "").trim() || rule.rule.trim();
}

function ruleMessageOrDefault(rule: ValidationRule): string {
  const message = (rule.message ?? "").trim();
  // messageExpression is CEL too; without an interpreter the static message (or default) is used.
  return message || `failed rule: ${rule.rule.trim()}`;
}

function pathFor(path: string, fieldPath: string | undefined): string {
  if (!fieldPath) return path;
  const rel = fieldPath.startsWith(".") ? fieldPath.slice(1) : fieldPath;
  return path === "" ? rel : `${path}.${rel}`;
}

function fieldErrorForReason(
  field: string,
  typeName: string,
  detail: string,
  reason?: string,
): FieldError {
  switch (reason) {
    case "FieldValueForbidden":
      return forbidden(field, detail);
    case "FieldValueRequired":
      return required(field, detail);
    case "FieldValueDuplicate":
      return duplicate(field, typeName);
    default:
      return invalid(field, typeName, detail);
  }
}

/**
 * Evaluates the supported rules of one schema node against its value, like apiextensions' CEL
 * validator: the bad value shown is the schema type (`Invalid value: "string": <message>`).
 */
function checkRules(s: JSONSchemaProps, value: unknown, path: string, out: FieldError[]): void {
  const typeName = s.type ?? "";
  for (const { rule, check } of rulesOf(s)) {
    const outcome = check(value);
    if (outcome === "pass" || outcome === "skip") continue;
    if (outcome === "fail") {
      const field = fieldOf(pathFor(path, rule.fieldPath));
      out.push(fieldErrorForReason(field, typeName, ruleMessageOrDefault(rule), rule.reason));
    } else {
      out.push(
        invalid(
          fieldOf(path),
          typeName,
          `${outcome.error} evaluating rule: ${ruleErrorString(rule)}`,
        ),
      );
    }
  }
}

/** The `x-kubernetes-validations` rules in a schema that kube-sim does not evaluate (distinct, in schema order). */
export function unsupportedRules(schema: JSONSchemaProps): string[] {
  const found = new Set<string>();
  const walk = (s: JSONSchemaProps): void => {
    for (const rule of s["x-kubernetes-validations"] ?? []) {
      if (!compile(rule.rule)) found.add(rule.rule.trim());
    }
    for (const child of Object.values(s.properties ?? {})) walk(child);
    if (s.items) walk(s.items);
    if (typeof s.additionalProperties === "object") walk(s.additionalProperties);
  };
  walk(schema);
  return [...found];
}

const hasRulesCache = new WeakMap<JSONSchemaProps, boolean>();

/** True when any node of the schema has x-kubernetes-validations (the apiserver then builds a CEL validator). */
export function hasRules(s: JSONSchemaProps): boolean {
  let has = hasRulesCache.get(s);
  if (has === undefined) {
    // Cached per node, so rule-free subtrees are skipped cheaply on every write.
    has =
      (s["x-kubernetes-validations"]?.length ?? 0) > 0 ||
      Object.values(s.properties ?? {}).some(hasRules) ||
      (s.items !== undefined && hasRules(s.items)) ||
      (typeof s.additionalProperties === "object" && hasRules(s.additionalProperties));
    hasRulesCache.set(s, has);
  }
  return has;
}

/** Walks the object along the schema and evaluates the supported rules at every node (apiextensions cel.Validator order: a node's rules, then its children). */
export function validateRules(
  s: JSONSchemaProps,
  value: unknown,
  path: string,
  out: FieldError[],
): void {
  if (value === null || value === undefined || !hasRules(s)) return;
  checkRules(s, value, path, out);
  if (Array.isArray(value)) {
    const items = s.items;
    if (items) value.forEach((v, i) => validateRules(items, v, `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const prop = propOf(s, k);
    const extra = additionalOf(s);
    if (prop) validateRules(prop, v, joinPath(path, k), out);
    // Map values are addressed with field.Path.Key: `matchLabels[app]`.
    else if (extra) validateRules(extra, v, `${path}[${k}]`, out);
  }
}
