// What the apiserver's unstructuredSchemaCoercer does to a custom resource before validation:
// structural pruning (apiextensions pruning/algorithm.go), ObjectMeta coercion, removal of
// non-nullable nulls without a default (defaulting/prunenulls.go) and defaulting
// (defaulting/algorithm.go). Works on a copy; the caller's object is never changed.
import {
  additionalOf,
  cloneJson,
  isObject,
  joinPath as join,
  propOf,
  setKey,
  type JsonObject,
} from "./json.js";
import type { JSONSchemaProps } from "./types.js";

/** Top-level ObjectMeta JSON fields; anything else under `metadata` is dropped as unknown. */
const OBJECT_META_FIELDS = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);

const defaultedCache = new WeakMap<JSONSchemaProps, [string, JSONSchemaProps][]>();

/** The properties of a node that have a default (usually none), cached per schema node. */
function defaultedProperties(s: JSONSchemaProps): [string, JSONSchemaProps][] {
  let list = defaultedCache.get(s);
  if (!list) {
    list = Object.entries(s.properties ?? {}).filter(([, p]) => p.default !== undefined);
    defaultedCache.set(s, list);
  }
  return list;
}

class Pruner {
  constructor(private readonly unknown: string[]) {}

  /** pruning.prune: keeps what the schema describes, records and drops the rest. */
  node(x: unknown, s: JSONSchemaProps | undefined, path: string, root: boolean): unknown {
    if (s?.["x-kubernetes-preserve-unknown-fields"]) return this.skip(x, s, path, root);
    if (Array.isArray(x)) {
      return x.map((v, i) =>
        v === undefined ? null : this.node(v, s?.items, `${path}[${i}]`, false),
      );
    }
    if (!isObject(x)) return x;
    const out: JsonObject = {};
    if (s === undefined) {
      for (const [k, v] of Object.entries(x)) if (v !== undefined) this.unknown.push(join(path, k));
      return out;
    }
    const embedded = root || s["x-kubernetes-embedded-resource"] === true;
    for (const [k, v] of Object.entries(x)) {
      if (v === undefined) continue;
      if (embedded && this.keepResourceField(out, k, v, path)) continue;
      const prop = propOf(s, k);
      if (
        prop === undefined &&
        (s.additionalProperties === undefined || s.additionalProperties === false)
      ) {
        this.unknown.push(join(path, k));
        continue;
      }
      // `additionalProperties: true` has no schema: the apiserver prunes below it as for a nil schema.
      const child = prop ?? additionalOf(s);
      this.child(out, k, v, child, join(path, k));
    }
    this.defaults(out, s, path);
    return out;
  }

  /** pruning.skipPrune: under x-kubernetes-preserve-unknown-fields only described fields are pruned. */
  private skip(x: unknown, s: JSONSchemaProps, path: string, root: boolean): unknown {
    if (Array.isArray(x)) {
      return x.map((v, i) => {
        if (v === undefined) return null;
        return s.items ? this.skip(v, s.items, `${path}[${i}]`, false) : cloneJson(v);
      });
    }
    if (!isObject(x)) return x;
    const out: JsonObject = {};
    const embedded = root || s["x-kubernetes-embedded-resource"] === true;
    for (const [k, v] of Object.entries(x)) {
      if (v === undefined) continue;
      if (embedded && this.keepResourceField(out, k, v, path)) continue;
      const prop = propOf(s, k);
      if (prop !== undefined) this.child(out, k, v, prop, join(path, k));
      else if (additionalOf(s)) this.child(out, k, v, additionalOf(s), join(path, k));
      else setKey(out, k, cloneJson(v));
    }
    this.defaults(out, s, path);
    return out;
  }

  /** apiVersion/kind (strings) and metadata (an object) of a resource root bypass the schema. */
  private keepResourceField(out: JsonObject, k: string, v: unknown, path: string): boolean {
    if ((k === "apiVersion" || k === "kind") && typeof v === "string") {
      out[k] = v;
      return true;
    }
    if (k === "metadata" && isObject(v)) {
      setKey(out, k, this.objectMeta(v, join(path, "metadata")));
      return true;
    }
    return false;
  }

  /** ObjectMeta coercion: the apiserver decodes metadata into metav1.ObjectMeta, losing unknown keys. */
  private objectMeta(meta: JsonObject, path: string): JsonObject {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(meta)) {
      if (v === undefined) continue;
      if (OBJECT_META_FIELDS.has(k)) setKey(out, k, cloneJson(v));
      else this.unknown.push(join(path, k));
    }
    return out;
  }

  private child(
    out: JsonObject,
    k: string,
    v: unknown,
    child: JSONSchemaProps | undefined,
    path: string,
  ): void {
    if (v === null && child !== undefined && !child.nullable) {
      // PruneNonNullableNullsWithoutDefaults, then Default replaces the null with the default.
      if (child.default !== undefined) setKey(out, k, this.defaultValue(child, path));
      return;
    }
    setKey(out, k, this.node(v, child, path, false));
  }

  private defaults(out: JsonObject, s: JSONSchemaProps, path: string): void {
    for (const [k, prop] of defaultedProperties(s)) {
      if (!Object.hasOwn(out, k)) setKey(out, k, this.defaultValue(prop, join(path, k)));
    }
  }

  /** A default is itself pruned and defaulted; fields it would drop are not the client's fault. */
  private defaultValue(s: JSONSchemaProps, path: string): unknown {
    return new Pruner([]).node(cloneJson(s.default), s, path, false);
  }
}

/** Prunes, coerces metadata, drops non-nullable nulls and applies defaults to a copy of a custom resource; unknown field paths are appended to `unknownFields`. */
export function pruneCustomResource(
  obj: unknown,
  schema: JSONSchemaProps,
  unknownFields: string[],
): unknown {
  return new Pruner(unknownFields).node(obj, schema, "", true);
}
