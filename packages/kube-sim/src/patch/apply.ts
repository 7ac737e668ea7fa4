// Server-side apply (`application/apply-patch+yaml`) and the ownership bookkeeping of ordinary
// writes, approximating sigs.k8s.io/structured-merge-diff `merge.Updater` as the API server
// drives it (apiserver `managedfields/internal`: stripmeta, skipnonapplied, lastapplied*).
import { PatchError, type PatchErrorCause } from "./errors.js";
import {
  collectLeaves,
  compareLeaves,
  FieldSet,
  fieldPathString,
  itemElement,
  leafSet,
  removeFields,
  type ListTypeOf,
  type Leaves,
} from "./field-set.js";
import {
  canonicalJson,
  deepClone,
  deepEqual,
  getKey,
  hasKey,
  isObject,
  setKey,
  type Json,
  type JsonObject,
} from "../json.js";
import {
  encodeOwners,
  ownerId,
  printManager,
  readOwners,
  type ManagedFieldsEntry,
  type Owner,
} from "./managed-fields.js";
import type { ListStrategy, SmpSchema } from "./smp-schema.js";

export type { ListTypeOf } from "./field-set.js";
export type { ManagedFieldsEntry } from "./managed-fields.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** The manager that owns what an object held before its first apply (`skipnonapplied.go`). */
const BEFORE_FIRST_APPLY = "before-first-apply";

/** ObjectMeta lists keep their list types on custom resources too. */
function objectMetaStrategy(path: readonly string[]): ListStrategy {
  if (path.length === 2 && path[0] === "metadata") {
    if (path[1] === "finalizers") return { kind: "set" };
    if (path[1] === "ownerReferences") return { kind: "merge", key: "uid" };
  }
  return { kind: "replace" };
}

/**
 * SSA list types derived from an SMP schema: merge-key lists become `map` lists keyed by the
 * merge key, `set` stays a set, everything else is `atomic`. Without a schema (custom resources)
 * every list is atomic except `metadata.finalizers` and `metadata.ownerReferences`.
 */
export function listTypesFromSmp(schema: SmpSchema | undefined): ListTypeOf {
  return (path) => {
    const s = schema ? schema.listStrategy(path) : objectMetaStrategy(path);
    switch (s.kind) {
      case "merge":
        return { type: "map", keys: [s.key] };
      case "set":
        return { type: "set" };
      case "replace":
        return { type: "atomic" };
    }
  };
}

/** Deep-merges an applied value into a live one (structured-merge-diff `Merge`). */
function mergeApplied(
  live: Json | undefined,
  applied: Json,
  spath: string[],
  listType: ListTypeOf,
): Json {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? live : {};
    for (const k of Object.keys(applied)) {
      setKey(out, k, mergeApplied(getKey(out, k), applied[k] as Json, [...spath, k], listType));
    }
    return out;
  }
  if (!Array.isArray(applied)) return applied;
  const t = listType(spath);
  if (t.type === "atomic") return deepClone(applied);
  const itemPath = [...spath, "[]"];
  const lhs = (Array.isArray(live) ? live : []).map((item) => ({ item, pe: itemElement(item, t) }));
  const rhs = applied.map((item) => ({ item, pe: itemElement(item, t) }));
  const inRhs = new Set(rhs.map((r) => r.pe));
  const lhsByPe = new Map<string, Json>();
  for (const l of lhs) if (l.pe !== undefined && !lhsByPe.has(l.pe)) lhsByPe.set(l.pe, l.item);
  const shared = rhs.filter((r) => r.pe !== undefined && lhsByPe.has(r.pe)).map((r) => r.pe);
  let nextShared = 0;
  const done = new Set<string>();
  const out: Json[] = [];
  const takeRhs = (pe: string, item: Json) => {
    done.add(pe);
    out.push(mergeApplied(lhsByPe.get(pe), item, itemPath, listType));
    if (shared[nextShared] === pe) nextShared++;
  };
  // Live-only items keep their place; applied items come in applied order
  // (structured-merge-diff `visitListItems`).
  let li = 0;
  let ri = 0;
  while (li < lhs.length || ri < rhs.length) {
    const l = lhs[li];
    const r = rhs[ri];
    if (l && r) {
      if (l.pe !== undefined && l.pe === r.pe) {
        takeRhs(r.pe, r.item);
        li++;
        ri++;
        continue;
      }
      if (
        l.pe !== undefined &&
        inRhs.has(l.pe) &&
        nextShared < shared.length &&
        shared[nextShared] !== l.pe
      ) {
        li++;
        continue;
      }
    }
    if (l) {
      if (l.pe === undefined || !inRhs.has(l.pe)) {
        out.push(l.item);
        li++;
        continue;
      }
      if (done.has(l.pe)) {
        li++;
        continue;
      }
    }
    if (r) {
      // Applied items were validated by collectLeaves(strict), so every one has a key.
      if (r.pe !== undefined && !done.has(r.pe)) takeRhs(r.pe, r.item);
      ri++;
    }
  }
  return out;
}

function withoutManagedFields(obj: Json | undefined): JsonObject | undefined {
  if (!isObject(obj)) return undefined;
  const copy = deepClone(obj);
  const meta = getKey(copy, "metadata");
  if (isObject(meta)) delete meta["managedFields"];
  return copy;
}

function writeManagedFields(obj: JsonObject, entries: ManagedFieldsEntry[]): void {
  let meta = getKey(obj, "metadata");
  if (!isObject(meta)) {
    if (entries.length === 0) return;
    meta = {};
    setKey(obj, "metadata", meta);
  }
  if (entries.length === 0) delete meta["managedFields"];
  else setKey(meta, "managedFields", entries as unknown as Json);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The 409 for SSA conflicts, worded like apiserver `NewConflictError`. */
function conflictError(conflicts: ReadonlyArray<{ owner: Owner; paths: FieldSet }>): PatchError {
  const rows = conflicts
    .flatMap(({ owner, paths }) =>
      [...paths].map((p) => ({
        id: ownerId(owner),
        who: printManager(owner),
        field: fieldPathString(p),
      })),
    )
    .sort((a, b) => cmp(a.id, b.id) || cmp(a.field, b.field));
  const causes: PatchErrorCause[] = rows.map((r) => ({
    type: "FieldManagerConflict",
    message: `conflict with ${r.who}`,
    field: r.field,
  }));
  const first = rows[0];
  if (rows.length === 1 && first) {
    return new PatchError(
      409,
      `Apply failed with 1 conflict: conflict with ${first.who}: ${first.field}`,
      causes,
    );
  }
  const lines: string[] = [];
  let lastId: string | undefined;
  for (const r of rows) {
    if (r.id !== lastId) lines.push(`conflicts with ${r.who}:`);
    lastId = r.id;
    lines.push(`- ${r.field}`);
  }
  return new PatchError(
    409,
    `Apply failed with ${rows.length} conflicts: ${lines.join("\n")}`,
    causes,
  );
}

function lastAppliedOf(obj: JsonObject): string | undefined {
  const meta = getKey(obj, "metadata");
  const ann = isObject(meta) ? getKey(meta, "annotations") : undefined;
  const v = isObject(ann) ? getKey(ann, LAST_APPLIED) : undefined;
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * Fields `kubectl` may take over from client-side apply without a conflict: those of the
 * last-applied annotation that still hold the same value live (apiserver `lastappliedmanager.go`).
 */
function fieldsFromLastApplied(
  live: JsonObject,
  liveLeaves: Leaves,
  apiVersion: string,
  listType: ListTypeOf,
): FieldSet {
  const text = lastAppliedOf(live);
  if (text === undefined) return new FieldSet();
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(text);
  } catch {
    return new FieldSet();
  }
  if (!isObject(lastApplied) || lastApplied["apiVersion"] !== apiVersion) return new FieldSet();
  const allowed = [...collectLeaves(lastApplied, listType, false)].filter(([k, leaf]) => {
    const l = liveLeaves.get(k);
    if (!l) return false;
    if (leaf.value === undefined || l.value === undefined) return leaf.value === l.value;
    return canonicalJson(leaf.value) === canonicalJson(l.value);
  });
  return new FieldSet(allowed.map(([, leaf]) => leaf.path));
}

/** Keeps the client-side apply annotation in step with what `kubectl` applies (`lastappliedupdater.go`). */
function syncLastApplied(obj: JsonObject, applied: JsonObject): void {
  const meta = getKey(obj, "metadata");
  const ann = isObject(meta) ? getKey(meta, "annotations") : undefined;
  if (!isObject(ann) || lastAppliedOf(obj) === undefined) return;
  const copy = deepClone(applied);
  const cmeta = getKey(copy, "metadata");
  const cann = isObject(cmeta) ? getKey(cmeta, "annotations") : undefined;
  if (isObject(cmeta) && isObject(cann)) {
    delete cann[LAST_APPLIED];
    if (Object.keys(cann).length === 0) delete cmeta["annotations"];
  }
  setKey(ann, LAST_APPLIED, canonicalJson(copy));
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined to create). Merges maps,
 * map-lists per key, sets as unions and replaces atomic lists; prunes fields this manager applied
 * before and dropped now unless another manager owns them; rejects changes to fields other
 * managers own with a 409 {@link PatchError} unless `force`, which transfers ownership; and
 * rewrites `metadata.managedFields` on the returned object.
 */
export function serverSideApply(args: {
  live: Json | undefined;
  applied: Json;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
  listType: ListTypeOf;
  subresource?: string;
}): { object: Json; managedFields: ManagedFieldsEntry[] } {
  const { applied, manager, force, apiVersion, now, listType, subresource } = args;
  if (!isObject(applied))
    throw new PatchError(400, "the applied configuration must be a JSON object");
  const appliedMeta = getKey(applied, "metadata");
  if (
    isObject(appliedMeta) &&
    hasKey(appliedMeta, "managedFields") &&
    appliedMeta["managedFields"] !== null
  ) {
    throw new PatchError(400, "metadata.managedFields must be nil");
  }

  const live = withoutManagedFields(args.live);
  const liveBase: JsonObject = live ?? {};
  let owners = readOwners(args.live);
  const liveLeaves = collectLeaves(liveBase, listType, false);
  if (live !== undefined && owners.length === 0 && liveLeaves.size > 0) {
    owners = [
      {
        manager: BEFORE_FIRST_APPLY,
        operation: "Update",
        apiVersion,
        time: now,
        set: leafSet(liveLeaves),
      },
    ];
  }

  const appliedLeaves = collectLeaves(applied, listType, true);
  const appliedSet = leafSet(appliedLeaves);
  const me: Owner = { manager, operation: "Apply", apiVersion, set: appliedSet };
  if (subresource) me.subresource = subresource;
  const myId = ownerId(me);
  const previous = owners.find((o) => ownerId(o) === myId);
  const others = owners.filter((o) => ownerId(o) !== myId);

  const merged = mergeApplied(deepClone(liveBase), applied, [], listType) as JsonObject;
  if (previous) {
    const keep = others.reduce((acc, o) => acc.union(o.set), appliedSet);
    removeFields(merged, previous.set.difference(keep), listType, keep);
  }

  const comparison = compareLeaves(liveLeaves, collectLeaves(merged, listType, false));
  const changed = comparison.modified.union(comparison.added);
  const conflicts = others
    .map((owner) => ({ owner, paths: owner.set.intersection(changed) }))
    .filter((c) => !c.paths.isEmpty());
  if (conflicts.length > 0 && !force) {
    const allowed =
      manager === "kubectl"
        ? fieldsFromLastApplied(liveBase, liveLeaves, apiVersion, listType)
        : new FieldSet();
    const refused = conflicts
      .map((c) => ({ owner: c.owner, paths: c.paths.difference(allowed) }))
      .filter((c) => !c.paths.isEmpty());
    if (refused.length > 0) throw conflictError(refused);
  }
  for (const c of conflicts) c.owner.set = c.owner.set.difference(c.paths);
  for (const o of others) o.set = o.set.difference(comparison.removed);

  // `field: null` in an applied config is owned but leaves nothing behind in the object.
  const nulls = [...appliedLeaves.values()].filter((l) => l.value === null).map((l) => l.path);
  if (nulls.length > 0) removeFields(merged, new FieldSet(nulls), listType, appliedSet);
  if (manager === "kubectl") syncLastApplied(merged, applied);

  const changedObject = !deepEqual(liveBase, merged);
  me.time = previous?.time !== undefined && !changedObject ? previous.time : now;
  const managedFields = encodeOwners([...others, me], now);
  writeManagedFields(merged, managedFields);
  return { object: merged, managedFields };
}

/**
 * Ownership after a non-apply write (create, update, patch) by `manager`: fields `after` adds or
 * changes relative to `before` become owned by (manager, Update) and are taken from every other
 * manager; removed fields are dropped from all. `managedFields` sent in `after` replace the live
 * ones (unless empty or on a subresource), and `[{}]` clears them, as the API server allows.
 */
export function recordUpdate(args: {
  before: Json | undefined;
  after: Json;
  manager: string;
  apiVersion: string;
  now: string;
  listType: ListTypeOf;
  subresource?: string;
}): ManagedFieldsEntry[] {
  const { before, after, manager, apiVersion, now, listType, subresource } = args;
  const sent = isObject(after) ? getKey(after, "metadata") : undefined;
  const sentList = isObject(sent) ? getKey(sent, "managedFields") : undefined;
  if (
    Array.isArray(sentList) &&
    sentList.length === 1 &&
    isObject(sentList[0]) &&
    Object.keys(sentList[0]).length === 0
  ) {
    return [];
  }
  const fromRequest = subresource ? [] : readOwners(after);
  const owners = fromRequest.length > 0 ? fromRequest : readOwners(before);

  const comparison = compareLeaves(
    collectLeaves(isObject(before) ? before : {}, listType, false),
    collectLeaves(after, listType, false),
  );
  const current = comparison.modified.union(comparison.added);
  for (const o of owners) o.set = o.set.difference(current).difference(comparison.removed);
  if (!current.isEmpty()) {
    const me: Owner = { manager, operation: "Update", apiVersion, time: now, set: current };
    if (subresource) me.subresource = subresource;
    const existing = owners.find((o) => ownerId(o) === ownerId(me));
    if (existing) {
      existing.set = existing.set.union(current);
      existing.time = now;
    } else {
      owners.push(me);
    }
  }
  return encodeOwners(owners, now);
}
