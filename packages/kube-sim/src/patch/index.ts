// Patch engines of kube-sim: JSON Patch, JSON Merge Patch, strategic merge patch and
// server-side apply with managedFields. Pure functions over JSON values, no I/O.
export {
  canonicalJson,
  deepClone,
  deepEqual,
  isObject,
  type Json,
  type JsonObject,
} from "../json.js";
export { PatchError, type PatchErrorCause } from "./errors.js";
export { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from "./json-patch.js";
export { applyMergePatch } from "./merge-patch.js";
export { applyStrategicMergePatch } from "./strategic-merge.js";
export { builtinSmpSchema, type ListStrategy, type SmpSchema } from "./smp-schema.js";
export {
  listTypesFromSmp,
  recordUpdate,
  serverSideApply,
  type ListTypeOf,
  type ManagedFieldsEntry,
} from "./apply.js";
export { FieldSet, fieldPathString, type FieldPath, type PathElement } from "./field-set.js";
