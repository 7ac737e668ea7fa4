// `metadata.managedFields` entries: decoding, manager identity and the order the API server
// writes them in (apiserver `managedfields/internal`).
import { FieldSet } from "./field-set.js";
import { getKey, isObject, type Json, type JsonObject } from "../json.js";

/** One `metadata.managedFields` entry, as stored and served. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: Json;
  subresource?: string;
}

/** A decoded entry: who owns which fields. */
export interface Owner {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time?: string;
  subresource?: string;
  set: FieldSet;
}

/**
 * The manager identity (apiserver `BuildManagerIdentifier`): time never counts, and for appliers
 * neither does the apiVersion, so one applier has one entry whatever version it applies.
 */
export function ownerId(
  o: Pick<Owner, "manager" | "operation" | "apiVersion" | "subresource">,
): string {
  const id: JsonObject = { manager: o.manager, operation: o.operation };
  if (o.operation === "Update" && o.apiVersion !== "") id["apiVersion"] = o.apiVersion;
  if (o.subresource) id["subresource"] = o.subresource;
  return JSON.stringify(id);
}

/** How conflict messages name a manager (fieldmanager `printManager`). */
export function printManager(o: Owner): string {
  let s = JSON.stringify(o.manager);
  if (o.subresource) s += ` with subresource ${JSON.stringify(o.subresource)}`;
  if (o.operation === "Update") s += ` using ${o.apiVersion}`;
  return s;
}

/** Decodes `metadata.managedFields` of `obj`; entries that are not well-formed are dropped. */
export function readOwners(obj: Json | undefined): Owner[] {
  const meta = isObject(obj) ? getKey(obj, "metadata") : undefined;
  const list = isObject(meta) ? getKey(meta, "managedFields") : undefined;
  if (!Array.isArray(list)) return [];
  return list.flatMap((e): Owner[] => {
    if (!isObject(e)) return [];
    const { manager, operation, apiVersion, time, subresource } = e;
    if (typeof manager !== "string" || (operation !== "Apply" && operation !== "Update")) return [];
    const owner: Owner = {
      manager,
      operation,
      apiVersion: typeof apiVersion === "string" ? apiVersion : "",
      set: FieldSet.fromFieldsV1(getKey(e, "fieldsV1")),
    };
    if (typeof time === "string") owner.time = time;
    if (typeof subresource === "string" && subresource !== "") owner.subresource = subresource;
    return [owner];
  });
}

function seconds(time: string): number {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/**
 * Encodes owners as `managedFields`, dropping empty ones, in the server's order: Apply before
 * Update, then by time, manager, apiVersion, subresource (`sortEncodedManagedFields`).
 */
export function encodeOwners(owners: readonly Owner[], now: string): ManagedFieldsEntry[] {
  const entries = owners
    .filter((o) => !o.set.isEmpty())
    .map((o): ManagedFieldsEntry => {
      const e: ManagedFieldsEntry = {
        manager: o.manager,
        operation: o.operation,
        apiVersion: o.apiVersion,
        time: o.time ?? now,
        fieldsType: "FieldsV1",
        fieldsV1: o.set.toFieldsV1(),
      };
      if (o.subresource) e.subresource = o.subresource;
      return e;
    });
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return entries.sort(
    (p, q) =>
      cmp(p.operation, q.operation) ||
      seconds(p.time) - seconds(q.time) ||
      cmp(p.manager, q.manager) ||
      cmp(p.apiVersion, q.apiVersion) ||
      cmp(p.subresource ?? "", q.subresource ?? ""),
  );
}
