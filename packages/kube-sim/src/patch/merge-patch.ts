// RFC 7386 JSON Merge Patch (`application/merge-patch+json`), the patch type kubectl uses for
// custom resources and `kubectl scale`.
import { deepClone, getKey, isObject, setKey, type Json, type JsonObject } from "../json.js";

function merge(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return deepClone(patch);
  const out: JsonObject = isObject(target) ? target : {};
  for (const key of Object.keys(patch)) {
    const pv = patch[key] as Json;
    if (pv === null) {
      delete out[key];
    } else {
      setKey(out, key, merge(getKey(out, key), pv));
    }
  }
  return out;
}

/**
 * Applies an RFC 7386 merge patch: objects merge recursively, `null` deletes a key, arrays and
 * scalars replace, and a non-object patch replaces the whole target. Does not mutate inputs.
 */
export function applyMergePatch(target: Json, patch: Json): Json {
  return merge(deepClone(target), patch);
}
