// x-kubernetes-list-type invariants (apiextensions listtype.ValidateListSetsAndMaps): a `set` has
// no repeated item, a `map` no two items with the same key fields.
import { duplicate, fieldOf, goJson, invalid } from "./render.js";
import { additionalOf, isObject, joinPath, propOf, setKey, type JsonObject } from "./json.js";
import type { FieldError, JSONSchemaProps } from "./types.js";

/** Stands for a missing key field; no JSON encoding starts with a NUL, so it cannot collide. */
const UNSPECIFIED = "\u0000unspecified";

function checkList(s: JSONSchemaProps, list: unknown[], path: string, out: FieldError[]): void {
  const listType = s["x-kubernetes-list-type"];
  if (listType === "set") {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const key = goJson(item);
      if (seen.has(key)) out.push(duplicate(fieldOf(`${path}[${i}]`), item));
      else seen.add(key);
    });
  } else if (listType === "map") {
    const bad = list.findIndex((item) => item !== null && !isObject(item));
    if (bad >= 0) {
      out.push(
        invalid(
          fieldOf(`${path}[${bad}]`),
          list[bad],
          "must be an object for an array of list-type map",
        ),
      );
      return;
    }
    const keys = s["x-kubernetes-list-map-keys"] ?? [];
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const m = (item ?? {}) as JsonObject;
      // A missing key field counts as its default, or as "unspecified" when it has none.
      const id = keys.map((k) => {
        if (Object.hasOwn(m, k)) return goJson(m[k]);
        const def = propOf(s.items, k)?.default;
        return def === undefined ? UNSPECIFIED : goJson(def);
      });
      const key = JSON.stringify(id);
      if (seen.has(key)) {
        const shown: JsonObject = {};
        for (const k of keys) setKey(shown, k, m[k] ?? null);
        out.push(duplicate(fieldOf(`${path}[${i}]`), shown));
      } else seen.add(key);
    });
  }
}

const hasListTypesCache = new WeakMap<JSONSchemaProps, boolean>();

function hasListTypes(s: JSONSchemaProps): boolean {
  let has = hasListTypesCache.get(s);
  if (has === undefined) {
    const t = s["x-kubernetes-list-type"];
    has =
      t === "set" ||
      t === "map" ||
      Object.values(s.properties ?? {}).some(hasListTypes) ||
      (s.items !== undefined && hasListTypes(s.items)) ||
      (typeof s.additionalProperties === "object" && hasListTypes(s.additionalProperties));
    hasListTypesCache.set(s, has);
  }
  return has;
}

/** Reports duplicate items of list-type `set`/`map` arrays anywhere in the object. */
export function validateListTypes(
  s: JSONSchemaProps,
  value: unknown,
  path: string,
  out: FieldError[],
): void {
  if (!hasListTypes(s)) return;
  if (Array.isArray(value)) {
    checkList(s, value, path, out);
    const items = s.items;
    if (items) value.forEach((v, i) => validateListTypes(items, v, `${path}[${i}]`, out));
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const prop = propOf(s, k);
    const extra = additionalOf(s);
    if (prop) validateListTypes(prop, v, joinPath(path, k), out);
    else if (extra) validateListTypes(extra, v, `${path}[${k}]`, out);
  }
}
