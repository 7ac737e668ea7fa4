// Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds, following
// k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch` with the server's options
// (MergeParallelList, IgnoreUnmatchedNulls), including its list ordering rules: patch items keep
// the patch's order, server-only items keep the live order, and items new to the list go first.
import { PatchError } from "./errors.js";
import {
  deepClone,
  deepEqual,
  getKey,
  hasKey,
  isObject,
  setKey,
  type Json,
  type JsonObject,
} from "../json.js";
import type { ListStrategy, SmpSchema } from "./smp-schema.js";

export { builtinSmpSchema, type ListStrategy, type SmpSchema } from "./smp-schema.js";

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ORDER = "$setElementOrder/";
const DELETE_FROM = "$deleteFromPrimitiveList/";

/** Result of a map patched with `$patch: delete`: the caller drops the key. */
const DELETE = Symbol("delete");
type Merged = JsonObject | typeof DELETE;

const badRequest = (message: string) => new PatchError(400, message);

function noMergeKey(item: Json, key: string): PatchError {
  return badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
}

/** Whether a list holds maps or scalars; SMP refuses mixed lists and lists of lists. */
function elementKind(...lists: Json[][]): "map" | "scalar" {
  let kind: "map" | "scalar" | undefined;
  for (const list of lists) {
    for (const el of list) {
      if (Array.isArray(el)) throw new PatchError(422, "lists of lists are not supported");
      const k = isObject(el) ? "map" : "scalar";
      if (kind !== undefined && kind !== k) {
        throw badRequest("list element types are not identical");
      }
      kind = k;
    }
  }
  return kind ?? "scalar";
}

/** The identity an item has for ordering: its merge-key value for maps, itself otherwise. */
function identity(item: Json, key: string | undefined): Json | undefined {
  if (key === undefined) return item;
  return isObject(item) ? getKey(item, key) : undefined;
}

function indexIn(list: readonly Json[], item: Json, key: string | undefined): number {
  const id = identity(item, key);
  return list.findIndex((x) => deepEqual(identity(x, key), id));
}

function sortByOrder(items: Json[], order: readonly Json[], key: string | undefined): Json[] {
  const ranked = items.map((item, i) => ({ item, i, at: indexIn(order, item, key) }));
  ranked.sort((a, b) => {
    const ra = a.at < 0 ? Number.MAX_SAFE_INTEGER : a.at;
    const rb = b.at < 0 ? Number.MAX_SAFE_INTEGER : b.at;
    return ra - rb || a.i - b.i;
  });
  return ranked.map((r) => r.item);
}

/**
 * strategicpatch `mergeSortedSlice`: interleaves server-only items (`left`) into patch items
 * (`right`); a left item goes first only when both are in the live order and it precedes.
 */
function mergeSorted(
  left: Json[],
  right: Json[],
  serverOrder: readonly Json[],
  key: string | undefined,
): Json[] {
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    const l = left[i];
    const r = right[j];
    if (l === undefined) {
      out.push(r as Json);
      j++;
    } else if (r === undefined) {
      out.push(l);
      i++;
    } else {
      const li = indexIn(serverOrder, l, key);
      const ri = indexIn(serverOrder, r, key);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push(l);
        i++;
      } else {
        out.push(r);
        j++;
      }
    }
  }
  return out;
}

/** strategicpatch `normalizeElementOrder` over `merged`, split by presence in `patchOrder`. */
function normalizeOrder(
  merged: Json[],
  patchOrder: readonly Json[],
  serverOrder: readonly Json[],
  key: string | undefined,
): Json[] {
  const patchItems: Json[] = [];
  const serverOnly: Json[] = [];
  for (const item of merged) {
    (indexIn(patchOrder, item, key) >= 0 ? patchItems : serverOnly).push(item);
  }
  return mergeSorted(
    sortByOrder(serverOnly, serverOrder, key),
    sortByOrder(patchItems, patchOrder, key),
    serverOrder,
    key,
  );
}

class Merger {
  constructor(private readonly schema: SmpSchema) {}

  /** A patch value as it lands where nothing was: directives applied, nulls dropped. */
  private fresh(value: Json, path: readonly string[]): Json | undefined {
    if (isObject(value)) {
      const r = this.mergeMap(undefined, value, path);
      return r === DELETE ? undefined : r;
    }
    if (Array.isArray(value)) return this.mergeListField([], value, path);
    return value;
  }

  private mergeListField(original: Json[], patch: Json[], path: readonly string[]): Json[] {
    const strategy = this.schema.listStrategy(path);
    if (strategy.kind === "replace") return deepClone(patch);
    return this.mergeList(original, patch, path, strategy);
  }

  mergeMap(original: JsonObject | undefined, patch: JsonObject, path: readonly string[]): Merged {
    if (hasKey(patch, DIRECTIVE)) {
      const directive = patch[DIRECTIVE];
      const rest: JsonObject = {};
      for (const k of Object.keys(patch)) if (k !== DIRECTIVE) setKey(rest, k, patch[k] as Json);
      if (directive === "replace") return this.mergeMap(undefined, rest, path);
      // Real apiservers leave `{}` behind for a nested map deleted this way; dropping the key is
      // what clients mean and what Go's omitempty makes of it for maps.
      if (directive === "delete") return DELETE;
      // `$patch: merge` is the default strategy; accept it as a no-op rather than an error.
      if (directive !== "merge") {
        throw badRequest(
          `Unknown patch type: ${JSON.stringify(directive)} in map: ${JSON.stringify(patch)}`,
        );
      }
      return this.mergeMap(original, rest, path);
    }
    const out: JsonObject = original ?? {};

    if (hasKey(patch, RETAIN_KEYS)) this.retainKeys(out, patch);

    const handled = new Set<string>();
    for (const key of Object.keys(patch)) {
      if (!key.startsWith(SET_ORDER)) continue;
      const field = key.slice(SET_ORDER.length);
      if (this.setElementOrder(out, patch, field, patch[key] as Json, [...path, field])) {
        handled.add(field);
      }
    }

    const deleteLists: Array<[string, Json[]]> = [];
    for (const key of Object.keys(patch)) {
      if (key === RETAIN_KEYS || key.startsWith(SET_ORDER) || handled.has(key)) continue;
      const pv = patch[key] as Json;
      if (key.startsWith(DELETE_FROM)) {
        if (!Array.isArray(pv)) throw badRequest("invalid patch format of primitive list");
        deleteLists.push([key.slice(DELETE_FROM.length), pv]);
        continue;
      }
      if (pv === null) {
        delete out[key];
        continue;
      }
      const ov = getKey(out, key);
      const kpath = [...path, key];
      let next: Json | undefined;
      if (isObject(pv)) {
        const r = this.mergeMap(isObject(ov) ? ov : undefined, pv, kpath);
        next = r === DELETE ? undefined : r;
      } else if (Array.isArray(pv)) {
        next = this.mergeListField(Array.isArray(ov) ? ov : [], pv, kpath);
      } else {
        next = pv;
      }
      if (next === undefined) delete out[key];
      else setKey(out, key, next);
    }

    // Applied after the merge so `finalizers` and `$deleteFromPrimitiveList/finalizers` in one
    // patch behave the same every time (Go iterates the map in random order).
    for (const [field, values] of deleteLists) {
      const ov = getKey(out, field);
      if (!Array.isArray(ov)) continue;
      setKey(
        out,
        field,
        ov.filter((x) => !values.some((v) => deepEqual(v, x))),
      );
    }
    return out;
  }

  private retainKeys(out: JsonObject, patch: JsonObject): void {
    const list = patch[RETAIN_KEYS];
    if (!Array.isArray(list)) throw badRequest("invalid patch format of retainKeys");
    const keep = new Set(list.filter((k): k is string => typeof k === "string"));
    for (const k of Object.keys(patch)) {
      if (k === RETAIN_KEYS || k === DIRECTIVE || patch[k] === null) continue;
      if (k.startsWith(DELETE_FROM) || k.startsWith(SET_ORDER)) continue;
      if (!keep.has(k)) throw badRequest("invalid patch format of retainKeys");
    }
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }

  /** Merges `field` together with its `$setElementOrder` list; false when left to the main loop. */
  private setElementOrder(
    out: JsonObject,
    patch: JsonObject,
    field: string,
    order: Json,
    fpath: readonly string[],
  ): boolean {
    if (!Array.isArray(order)) throw badRequest("invalid patch format of setElementOrder list");
    const strategy = this.schema.listStrategy(fpath);
    if (strategy.kind === "replace") return false;
    const ov = getKey(out, field);
    const pv = getKey(patch, field);
    if ((ov !== undefined && !Array.isArray(ov)) || (pv !== undefined && !Array.isArray(pv))) {
      return false;
    }
    if (ov === undefined && pv === undefined) return true;
    const original = ov ?? [];
    const merged = pv === undefined ? original : this.mergeList(original, pv, fpath, strategy);
    const key =
      strategy.kind === "merge" && elementKind(original, pv ?? []) === "map"
        ? strategy.key
        : undefined;
    if (key !== undefined) {
      for (const o of order) if (!isObject(o) || !hasKey(o, key)) throw noMergeKey(o, key);
    }
    // Items the order list marks `$patch: delete` are dropped (strategicpatch normalizeSliceOrder).
    const dropped = order.filter((o) => isObject(o) && o[DIRECTIVE] === "delete");
    const kept = merged.filter(
      (m) => !dropped.some((d) => deepEqual(identity(d, key), identity(m, key))),
    );
    setKey(out, field, normalizeOrder(kept, order, original, key));
    return true;
  }

  private mergeList(
    original: Json[],
    patch: Json[],
    path: readonly string[],
    strategy: Exclude<ListStrategy, { kind: "replace" }>,
  ): Json[] {
    if (original.length === 0 && patch.length === 0) return original;
    const kind = elementKind(original, patch);
    if (kind === "scalar" || strategy.kind === "set") {
      const both: Json[] = [];
      for (const x of [...original, ...patch]) {
        if (!both.some((y) => deepEqual(x, y))) both.push(deepClone(x));
      }
      return normalizeOrder(both, patch, original, undefined);
    }
    const key = strategy.key;
    let base = [...original];
    let items: JsonObject[] = [];
    let replace = false;
    for (const el of patch as JsonObject[]) {
      if (!hasKey(el, DIRECTIVE)) {
        items.push(el);
        continue;
      }
      switch (el[DIRECTIVE]) {
        case "delete": {
          if (!hasKey(el, key)) throw noMergeKey(el, key);
          const id = el[key] as Json;
          base = base.filter((x) => !deepEqual(identity(x, key), id));
          break;
        }
        case "replace":
          replace = true;
          break;
        case "merge":
          // The default; Go rejects it ("merging lists cannot yet be specified"), we ignore it.
          break;
        default:
          throw badRequest(
            `Unknown patch type: ${JSON.stringify(el[DIRECTIVE])} in map: ${JSON.stringify(el)}`,
          );
      }
    }
    const itemPath = [...path, "[]"];
    if (replace) {
      base = items.map((el) => this.fresh(el, itemPath) ?? {});
      items = [];
    }
    const serverOrder = [...base];
    for (const el of items) {
      if (!hasKey(el, key)) throw noMergeKey(el, key);
      const at = indexIn(base, el, key);
      const target = base[at];
      if (at >= 0 && isObject(target)) {
        const r = this.mergeMap(target, el, itemPath);
        base[at] = r === DELETE ? {} : r;
      } else {
        base.push(this.fresh(el, itemPath) ?? {});
      }
    }
    return normalizeOrder(base, items, serverOrder, key);
  }
}

/**
 * Applies a strategic merge patch to `target` using `schema` for list strategies: maps merge,
 * `null` deletes, lists merge by key / union / replace, and the directives `$patch`,
 * `$setElementOrder/<f>`, `$deleteFromPrimitiveList/<f>` and `$retainKeys` are honoured.
 * Does not mutate inputs. Throws {@link PatchError} 400/422 for malformed patches.
 */
export function applyStrategicMergePatch(target: Json, patch: Json, schema: SmpSchema): Json {
  if (patch === null) return deepClone(target);
  if (!isObject(patch)) {
    const kind = Array.isArray(patch) ? "array" : typeof patch;
    throw badRequest(
      `json: cannot unmarshal ${kind} into Go value of type map[string]interface {}`,
    );
  }
  const base = isObject(target) ? deepClone(target) : {};
  const r = new Merger(schema).mergeMap(base, patch, []);
  return r === DELETE ? {} : r;
}
