/** The one set of helpers for walking decoded YAML/JSON (manifests are plain JSON values). */

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Whether `v` is a JSON object (not a list, scalar or null). */
export const isObj = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** `v` as a JSON object, or undefined when it is not one. */
export const asObj = (v: unknown): Json | undefined => (isObj(v) ? v : undefined);

/** `v` as a list, or empty when it is not one. */
export const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `o[key]` as an object, created (replacing a non-object) when missing. */
export function child(o: Json, key: string): Json {
  const v = o[key];
  if (isObj(v)) return v;
  const created: Json = {};
  o[key] = created;
  return created;
}

/** A stable JSON text (sorted keys), for comparing values. */
export function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  const o = asObj(v);
  if (o)
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}
