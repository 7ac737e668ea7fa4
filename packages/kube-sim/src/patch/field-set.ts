// Field sets as server-side apply tracks them (sigs.k8s.io/structured-merge-diff `fieldpath`),
// with the FieldsV1 wire encoding used in `metadata.managedFields`: `f:<field>` for a map field,
// `k:{"name":"web"}` for an associative-list item, `v:<json>` for a set item, `.` for "the item
// itself" when it also has children.
import { PatchError } from "./errors.js";
import {
  canonicalJson,
  getKey,
  hasKey,
  isObject,
  setKey,
  type Json,
  type JsonObject,
} from "../json.js";

/** How lists merge for SSA at a path: "map" with keys, "set", or "atomic" (default for CRDs). */
export type ListTypeOf = (
  path: readonly string[],
) => { type: "map"; keys: string[] } | { type: "set" } | { type: "atomic" };

/** One encoded path element: `f:<name>`, `k:<json of key fields>` or `v:<json>`. */
export type PathElement = string;

/** A path to one owned field, list item or atomic value. */
export type FieldPath = readonly PathElement[];

const keyOf = (p: FieldPath): string => JSON.stringify(p);

/** A set of field paths (only "members": owned leaves and list items). */
export class FieldSet {
  private readonly paths = new Map<string, FieldPath>();

  constructor(paths: Iterable<FieldPath> = []) {
    for (const p of paths) this.paths.set(keyOf(p), p);
  }

  get size(): number {
    return this.paths.size;
  }

  isEmpty(): boolean {
    return this.paths.size === 0;
  }

  has(p: FieldPath): boolean {
    return this.paths.has(keyOf(p));
  }

  [Symbol.iterator](): IterableIterator<FieldPath> {
    return this.paths.values();
  }

  union(other: FieldSet): FieldSet {
    return new FieldSet([...this, ...other]);
  }

  difference(other: FieldSet): FieldSet {
    return new FieldSet([...this].filter((p) => !other.has(p)));
  }

  intersection(other: FieldSet): FieldSet {
    return new FieldSet([...this].filter((p) => other.has(p)));
  }

  equals(other: FieldSet): boolean {
    return this.size === other.size && [...this].every((p) => other.has(p));
  }

  /** The FieldsV1 JSON of this set, children sorted as structured-merge-diff writes them. */
  toFieldsV1(): JsonObject {
    type Node = { member: boolean; children: Map<string, Node> };
    const root: Node = { member: false, children: new Map() };
    for (const p of this) {
      let node = root;
      for (const pe of p) {
        let next = node.children.get(pe);
        if (!next) {
          next = { member: false, children: new Map() };
          node.children.set(pe, next);
        }
        node = next;
      }
      node.member = true;
    }
    const encode = (node: Node): JsonObject => {
      const out: JsonObject = {};
      if (node.member && node.children.size > 0) out["."] = {};
      for (const pe of [...node.children.keys()].sort(comparePathElements)) {
        setKey(out, pe, encode(node.children.get(pe) as Node));
      }
      return out;
    };
    return encode(root);
  }

  /** Decodes FieldsV1 JSON; anything malformed is skipped rather than trusted. */
  static fromFieldsV1(fields: Json | undefined): FieldSet {
    const out: FieldPath[] = [];
    const walk = (node: Json | undefined, prefix: PathElement[]) => {
      if (!isObject(node)) return;
      for (const pe of Object.keys(node)) {
        if (pe === ".") continue;
        const child = node[pe];
        const p = [...prefix, pe];
        if (!isObject(child) || Object.keys(child).length === 0 || hasKey(child, ".")) out.push(p);
        walk(child, p);
      }
    };
    walk(fields, []);
    return new FieldSet(out);
  }
}

const PE_RANK: Readonly<Record<string, number>> = { f: 0, k: 1, v: 2, i: 3 };

function comparePathElements(a: string, b: string): number {
  const ra = PE_RANK[a.slice(0, 1)] ?? 9;
  const rb = PE_RANK[b.slice(0, 1)] ?? 9;
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `value.ToString` of structured-merge-diff: strings quoted, everything else as JSON. */
function valueString(v: Json): string {
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${k}=${valueString(v[k] as Json)}`)
      .join(",")}}`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => valueString(x)).join(",")}]`;
  return JSON.stringify(v);
}

/** A path as conflict messages print it: `.spec.template.spec.containers[name="web"].image`. */
export function fieldPathString(p: FieldPath): string {
  return p
    .map((pe) => {
      const body = pe.slice(2);
      if (pe.startsWith("f:")) return `.${body}`;
      if (pe.startsWith("k:")) {
        const key = JSON.parse(body) as JsonObject;
        return `[${Object.keys(key)
          .map((k) => `${k}=${valueString(key[k] as Json)}`)
          .join(",")}]`;
      }
      if (pe.startsWith("v:")) return `[=${valueString(JSON.parse(body) as Json)}]`;
      return pe;
    })
    .join("");
}

/** Fields the API server never tracks ownership of (apiserver `stripmeta.go`). */
const STRIPPED_METADATA = new Set([
  "name",
  "namespace",
  "creationTimestamp",
  "selfLink",
  "uid",
  "clusterName",
  "generation",
  "managedFields",
  "resourceVersion",
]);

function isStripped(spath: readonly string[], key: string): boolean {
  if (spath.length === 0) return key === "apiVersion" || key === "kind";
  return spath.length === 1 && spath[0] === "metadata" && STRIPPED_METADATA.has(key);
}

/** The path element of a list item, or undefined when the item cannot be keyed. */
export function itemElement(
  item: Json,
  type: { type: "map"; keys: string[] } | { type: "set" },
): PathElement | undefined {
  if (type.type === "set") return `v:${canonicalJson(item)}`;
  if (!isObject(item)) return undefined;
  const key: JsonObject = {};
  for (const k of [...type.keys].sort()) {
    const v = getKey(item, k);
    if (v !== undefined) setKey(key, k, v);
  }
  return Object.keys(key).length === 0 ? undefined : `k:${canonicalJson(key)}`;
}

/** An owned member and, for leaves, its value (list items carry no value of their own). */
export interface Leaf {
  path: FieldPath;
  value?: Json;
}

/** Every member of an object, keyed by path; `strict` rejects unkeyable or duplicate items. */
export type Leaves = Map<string, Leaf>;

/**
 * The members of `obj` (structured-merge-diff `ToFieldSet`): scalars, nulls, empty maps and
 * atomic lists are leaves; map fields recurse; items of map/set lists are members themselves.
 */
export function collectLeaves(obj: Json, listType: ListTypeOf, strict: boolean): Leaves {
  const out: Leaves = new Map();
  const add = (path: FieldPath, value?: Json) => {
    out.set(keyOf(path), value === undefined ? { path } : { path, value });
  };
  const walkFields = (o: JsonObject, fpath: PathElement[], spath: string[]) => {
    for (const k of Object.keys(o)) {
      if (isStripped(spath, k)) continue;
      walk(o[k] as Json, [...fpath, `f:${k}`], [...spath, k]);
    }
  };
  const walk = (v: Json, fpath: PathElement[], spath: string[]): void => {
    if (isObject(v)) {
      const isMetadata = spath.length === 1 && spath[0] === "metadata";
      if (Object.keys(v).length === 0 && fpath.length > 0 && !isMetadata) add(fpath, v);
      else walkFields(v, fpath, spath);
      return;
    }
    if (!Array.isArray(v)) {
      add(fpath, v);
      return;
    }
    const t = listType(spath);
    if (t.type === "atomic") {
      add(fpath, v);
      return;
    }
    const seen = new Set<string>();
    for (const item of v) {
      const pe = itemElement(item, t);
      const where = `.${spath.join(".")}`;
      if (pe === undefined) {
        if (!strict) continue;
        throw new PatchError(
          422,
          `${where}: associative list with keys has an element that omits all key fields ${JSON.stringify(t.type === "map" ? t.keys : [])}`,
        );
      }
      if (seen.has(pe)) {
        if (!strict) continue;
        throw new PatchError(422, `${where}: duplicate entries for key ${pe.slice(2)}`);
      }
      seen.add(pe);
      const ipath = [...fpath, pe];
      add(ipath);
      if (t.type === "map" && isObject(item)) walkFields(item, ipath, [...spath, "[]"]);
    }
  };
  if (isObject(obj)) walkFields(obj, [], []);
  return out;
}

/** The member paths of a leaf map. */
export function leafSet(leaves: Leaves): FieldSet {
  return new FieldSet([...leaves.values()].map((l) => l.path));
}

/** What changed between two objects, as structured-merge-diff `Compare` reports it. */
export interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

/** Compares the members of an old and a new object. */
export function compareLeaves(before: Leaves, after: Leaves): Comparison {
  const added: FieldPath[] = [];
  const removed: FieldPath[] = [];
  const modified: FieldPath[] = [];
  for (const [k, leaf] of after) {
    const old = before.get(k);
    if (!old) added.push(leaf.path);
    else if (old.value !== undefined || leaf.value !== undefined) {
      if (old.value === undefined || leaf.value === undefined) modified.push(leaf.path);
      else if (canonicalJson(old.value) !== canonicalJson(leaf.value)) modified.push(leaf.path);
    }
  }
  for (const [k, leaf] of before) if (!after.has(k)) removed.push(leaf.path);
  return {
    added: new FieldSet(added),
    removed: new FieldSet(removed),
    modified: new FieldSet(modified),
  };
}

/** Finds the child a path element names inside `container` (a map field or a list item). */
function step(
  container: Json | undefined,
  pe: PathElement,
  spath: readonly string[],
  listType: ListTypeOf,
): { value: Json; remove: () => void } | undefined {
  if (pe.startsWith("f:")) {
    if (!isObject(container)) return undefined;
    const name = pe.slice(2);
    const value = getKey(container, name);
    return value === undefined ? undefined : { value, remove: () => delete container[name] };
  }
  if (!Array.isArray(container)) return undefined;
  const t = listType(spath);
  if (t.type === "atomic") return undefined;
  const at = container.findIndex((item) => itemElement(item, t) === pe);
  if (at < 0) return undefined;
  return { value: container[at] as Json, remove: () => void container.splice(at, 1) };
}

/** Whether `p` names a key field of an associative-list item, e.g. `k:{"name":"a"}` / `f:name`. */
function isKeyField(p: FieldPath): boolean {
  const parent = p[p.length - 2];
  const last = p[p.length - 1];
  if (
    parent === undefined ||
    last === undefined ||
    !parent.startsWith("k:") ||
    !last.startsWith("f:")
  ) {
    return false;
  }
  return hasKey(JSON.parse(parent.slice(2)) as JsonObject, last.slice(2));
}

/** The schema path ("[]" for items) of a field path. */
function schemaPath(p: FieldPath): string[] {
  return p.map((pe) => (pe.startsWith("f:") ? pe.slice(2) : "[]"));
}

/**
 * Removes the fields and items of `paths` from `obj` in place. Maps and lists emptied by the
 * removal go too (Go's omitempty does the same to typed objects), unless `keep` owns them.
 */
export function removeFields(
  obj: JsonObject,
  paths: FieldSet,
  listType: ListTypeOf,
  keep: FieldSet,
): void {
  // Parents first: once an item is gone its children are simply not found. A key field is never
  // removed on its own, or the item would lose its identity.
  const sorted = [...paths].sort((a, b) => a.length - b.length);
  for (const p of sorted) {
    if (isKeyField(p)) continue;
    const chain: Array<{ value: Json; remove: () => void }> = [];
    let cur: Json | undefined = obj;
    for (let i = 0; i < p.length; i++) {
      const found = step(cur, p[i] as PathElement, schemaPath(p.slice(0, i)), listType);
      if (!found) break;
      chain.push(found);
      cur = found.value;
    }
    if (chain.length !== p.length) continue;
    (chain[chain.length - 1] as { remove: () => void }).remove();
    for (let i = chain.length - 2; i >= 0; i--) {
      const link = chain[i] as { value: Json; remove: () => void };
      const v = link.value;
      const empty =
        (isObject(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);
      if (!empty || keep.has(p.slice(0, i + 1))) break;
      link.remove();
    }
  }
}
