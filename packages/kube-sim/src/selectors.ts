import { badRequest } from "./status.js";

/** A parsed label selector requirement. */
type Req =
  | { op: "=" | "!="; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "exists" | "!"; key: string }
  | { op: ">" | "<"; key: string; n: number };

/** A compiled label selector; `matches(labels)`. */
export type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== "");
}

function checkKey(k: string, whole: string): string {
  if (!KEY.test(k))
    throw badRequest(`unable to parse requirement: invalid label key "${k}" in "${whole}"`);
  return k;
}
function checkValue(v: string, whole: string): string {
  if (v.length > 63 || !VALUE.test(v))
    throw badRequest(`unable to parse requirement: invalid label value: "${v}" in "${whole}"`);
  return v;
}

/** Parses a labelSelector query value (apimachinery grammar); throws 400 on a syntax error. */
export function parseLabelSelector(s: string | null | undefined): LabelSelector {
  if (!s) return () => true;
  const reqs: Req[] = splitTop(s).map((part): Req => {
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (m) {
      const values = (m[3] ?? "").split(",").map((v) => checkValue(v.trim(), part));
      return { op: m[2] as "in" | "notin", key: checkKey(m[1] ?? "", part), values };
    }
    m = /^(.+?)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (m)
      return {
        op: m[2] === "!=" ? "!=" : "=",
        key: checkKey((m[1] ?? "").trim(), part),
        value: checkValue((m[3] ?? "").trim(), part),
      };
    m = /^(.+?)\s*([<>])\s*(-?\d+)$/.exec(part);
    if (m)
      return { op: m[2] as ">" | "<", key: checkKey((m[1] ?? "").trim(), part), n: Number(m[3]) };
    if (part.startsWith("!")) return { op: "!", key: checkKey(part.slice(1).trim(), part) };
    return { op: "exists", key: checkKey(part, part) };
  });
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(l, r.key);
      const v = l[r.key];
      switch (r.op) {
        case "=":
          return has && v === r.value;
        case "!=":
          return !has || v !== r.value;
        case "in":
          return has && r.values.includes(v ?? "");
        case "notin":
          return !has || !r.values.includes(v ?? "");
        case "exists":
          return has;
        case "!":
          return !has;
        case ">":
          return has && Number(v) > r.n;
        case "<":
          return has && Number(v) < r.n;
      }
    });
  };
}

/** A label selector object (`matchLabels`/`matchExpressions`) as a function. */
export function selectorFromObject(sel: unknown): LabelSelector {
  if (typeof sel !== "object" || sel === null) return () => false;
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${vals})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  if (parts.length === 0) return () => true;
  return parseLabelSelector(parts.join(","));
}

/** `app=web,track=stable` form of a matchLabels selector (for Scale status.selector). */
export function selectorString(sel: unknown): string {
  const ml = (sel as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
  return Object.entries(ml)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** A compiled field selector. */
export type FieldSelector = (get: (field: string) => string | undefined) => boolean;

/** Parses a fieldSelector (`=`, `==`, `!=`, escapes); unknown fields → 400. */
export function parseFieldSelector(
  s: string | null | undefined,
  supported: (field: string) => boolean,
): FieldSelector {
  if (!s) return () => true;
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "\\" && i + 1 < s.length) {
      cur += ch + s[++i];
    } else if (ch === ",") {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  const reqs = parts
    .filter((p) => p.trim() !== "")
    .map((p) => {
      const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(p);
      if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${p}'`);
      const field = (m[1] ?? "").trim();
      if (!supported(field)) throw badRequest(`field label not supported: ${field}`);
      const value = (m[3] ?? "").replace(/\\(.)/g, "$1");
      return { field, neg: m[2] === "!=", value };
    });
  return (get) => reqs.every((r) => (get(r.field) === r.value) !== r.neg);
}
