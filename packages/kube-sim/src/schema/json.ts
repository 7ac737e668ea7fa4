// Small helpers for walking decoded JSON next to a schema, safe against keys such as
// `constructor` or `__proto__` that a plain-object lookup would resolve on the prototype.
import type { JSONSchemaProps } from "./types.js";

/** A decoded JSON object. */
export type JsonObject = Record<string, unknown>;

/** True for a JSON object (not null, not an array). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The schema of a declared property, ignoring anything inherited from Object.prototype. */
export function propOf(s: JSONSchemaProps | undefined, key: string): JSONSchemaProps | undefined {
  const props = s?.properties;
  return props !== undefined && Object.hasOwn(props, key) ? props[key] : undefined;
}

/** The schema of `additionalProperties` when it is a schema (not a boolean). */
export function additionalOf(s: JSONSchemaProps): JSONSchemaProps | undefined {
  return typeof s.additionalProperties === "object" ? s.additionalProperties : undefined;
}

/** `parent.key`, or `key` at the root: the path format of pruning and validation errors. */
export function joinPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Sets a key even when it is `__proto__`, so JSON input cannot reach an object's prototype. */
export function setKey(obj: JsonObject, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    obj[key] = value;
  }
}

/** A deep copy of a JSON value (undefined members dropped, as JSON would). */
export function cloneJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : cloneJson(x)));
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) setKey(out, k, cloneJson(x));
    return out;
  }
  return v;
}
