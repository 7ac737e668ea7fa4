import { deepEqual as jsonEqual, type Json } from "./json.js";

/** A Kubernetes object as JSON. */
export type Obj = Record<string, unknown>;

/** Object metadata fields kube-sim reads and writes. */
export interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
  [k: string]: unknown;
}

/** An ownerReferences entry. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Whether `v` is a plain JSON object. */
export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The metadata of an object (created empty if missing). */
export function meta(o: Obj): Meta {
  if (!isObj(o.metadata)) o.metadata = {};
  return o.metadata as Meta;
}

/** Deep copy of a JSON value. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Structural equality of JSON values (undefined members count as absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  return jsonEqual(a as Json, b as Json);
}

/** Value at a dotted path (`spec.replicas`), or undefined. */
export function getPath(o: unknown, path: readonly string[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/** Sets a value at a path, creating objects on the way. */
/** A JSON value as text: strings as they are, numbers printed, anything else "". */
export function text(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
}

/** The objects of a JSON list (anything else: none). */
export function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

export function setPath(o: Obj, path: readonly string[], value: unknown): void {
  let cur: Obj = o;
  for (const p of path.slice(0, -1)) {
    if (!isObj(cur[p])) cur[p] = {};
    cur = cur[p] as Obj;
  }
  const last = path[path.length - 1];
  if (last !== undefined) cur[last] = value;
}

/** A Kubernetes timestamp (RFC 3339, seconds precision). */
export function k8sTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
