// Small helpers for walking decoded JSON next to a schema, safe against keys such as
// `constructor` or `__proto__` that a plain-object lookup would resolve on the prototype.
import type { JSONSchemaProps } from "./types.js";

export { cloneJson, isObject, setKey } from "../json.js";
/** A decoded JSON object. */
export type JsonObject = Record<string, unknown>;

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
