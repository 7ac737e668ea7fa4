// JSON helpers shared by the patch engines, schema validation and the object layer. Keys are
// always read and written as own properties: request bodies are untrusted (`__proto__`).

/** A JSON value as decoded from a request body or stored by the emulator. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON object (map). */
export type JsonObject = { [k: string]: Json };

/** True when `v` is a JSON object (not an array, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `obj` has `key` as an own property (never looks at the prototype chain). */
export function hasKey(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** Reads an own property, or `undefined`; `__proto__` and friends are plain keys here. */
export function getKey(obj: JsonObject, key: string): Json | undefined {
  return hasKey(obj, key) ? obj[key] : undefined;
}

/**
 * Sets `obj[key] = value` as an own, enumerable property. Plain assignment of `__proto__`
 * would change the prototype instead, and request bodies are untrusted.
 */
export function setKey<T>(obj: Record<string, T>, key: string, value: NoInfer<T>): void {
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

/** A deep copy of a JSON value; the result shares nothing with the input. */
export function deepClone<T extends Json>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => deepClone(x)) as T;
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) setKey(out, k, deepClone(v[k] as Json));
    return out as T;
  }
  return v;
}

/**
 * Structural equality of two JSON values; object key order does not matter, array order does,
 * and members whose value is `undefined` count as absent (as in their JSON text).
 */
export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => hasKey(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** JSON text of `v` with object keys sorted, so equal values always give equal text. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x)).join(",")}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] as Json)}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** A deep copy of any decoded JSON value (undefined members dropped, as JSON would). */
export function cloneJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : cloneJson(x)));
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v))
      if (x !== undefined) setKey(out, k, cloneJson(x) as Json);
    return out;
  }
  return v;
}
