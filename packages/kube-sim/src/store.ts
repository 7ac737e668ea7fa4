import type { ResourceType } from "./registry.js";
import { clone, deepEqual, meta, type Obj } from "./object.js";

/** A change of one object. */
export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  rv: number;
  group: string;
  resource: string;
  namespace: string;
  name: string;
  /** The object after the change (for DELETED: the last state, with the delete's RV). */
  object: Obj;
  /** The object before the change (MODIFIED/DELETED). */
  old?: Obj;
}

/** Receives store events synchronously, in order. */
export type StoreListener = (e: StoreEvent) => void;

const typeKey = (t: Pick<ResourceType, "group" | "resource">): string => `${t.group}/${t.resource}`;
const objKey = (ns: string, name: string): string => `${ns}/${name}`;

/**
 * In-memory object storage with one global resourceVersion counter (like the etcd revision), a
 * bounded event history for watches that resume from a version, and synchronous listeners.
 * Objects are deep-copied in and out.
 */
export class Store {
  private rv = 1;
  /** group/resource → namespace/name → object. */
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();

  constructor(private readonly historySize = 10_000) {}

  /** Current global resourceVersion. */
  currentRv(): number {
    return this.rv;
  }

  /** Oldest resourceVersion a watch can still resume from. */
  oldestRv(): number {
    return this.history[0] ? this.history[0].rv - 1 : this.rv;
  }

  private typeMap(t: Pick<ResourceType, "group" | "resource">): Map<string, Obj> {
    const k = typeKey(t);
    let m = this.objects.get(k);
    if (!m) this.objects.set(k, (m = new Map<string, Obj>()));
    return m;
  }

  /** A copy of the stored object, if any. */
  get(t: Pick<ResourceType, "group" | "resource">, ns: string, name: string): Obj | undefined {
    const o = this.objects.get(typeKey(t))?.get(objKey(ns, name));
    return o ? clone(o) : undefined;
  }

  /**
   * Copies of the objects of a type (in `ns` if given) that pass `filter`, ordered by namespace
   * then name. `filter` sees the stored object read-only, so only matches are copied.
   */
  list(
    t: Pick<ResourceType, "group" | "resource">,
    ns?: string,
    filter?: (o: Obj) => boolean,
  ): Obj[] {
    const m = this.objects.get(typeKey(t));
    if (!m) return [];
    const prefix = ns === undefined ? "" : `${ns}/`;
    const out: [string, Obj][] = [];
    for (const [k, o] of m) if (k.startsWith(prefix) && (!filter || filter(o))) out.push([k, o]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => clone(o));
  }

  /**
   * The stored objects of a type (in `ns` if given) that pass `filter`, NOT copied: callers must
   * treat them as read-only (controllers that only read use this on their hot path).
   */
  scan(
    t: Pick<ResourceType, "group" | "resource">,
    ns: string | undefined,
    filter: (o: Obj) => boolean,
  ): readonly Readonly<Obj>[] {
    const m = this.objects.get(typeKey(t));
    if (!m) return [];
    const prefix = ns === undefined ? "" : `${ns}/`;
    const out: Obj[] = [];
    for (const [k, o] of m) if (k.startsWith(prefix) && filter(o)) out.push(o);
    return out;
  }

  /** Stores a new object, assigning the next resourceVersion. */
  create(t: Pick<ResourceType, "group" | "resource">, obj: Obj): Obj {
    const m = meta(obj);
    m.resourceVersion = String(++this.rv);
    const ns = m.namespace ?? "";
    this.typeMap(t).set(objKey(ns, m.name ?? ""), clone(obj));
    this.emit({
      type: "ADDED",
      rv: this.rv,
      group: t.group,
      resource: t.resource,
      namespace: ns,
      name: m.name ?? "",
      object: clone(obj),
    });
    return obj;
  }

  /**
   * Replaces a stored object. A write that changes nothing (ignoring managedFields times) keeps
   * the resourceVersion and emits no event, as the apiserver does.
   */
  update(t: Pick<ResourceType, "group" | "resource">, obj: Obj): Obj {
    const m = meta(obj);
    const ns = m.namespace ?? "";
    const k = objKey(ns, m.name ?? "");
    const map = this.typeMap(t);
    const old = map.get(k);
    if (old && sameIgnoringTimes(old, obj)) return clone(old);
    m.resourceVersion = String(++this.rv);
    map.set(k, clone(obj));
    this.emit({
      type: "MODIFIED",
      rv: this.rv,
      group: t.group,
      resource: t.resource,
      namespace: ns,
      name: m.name ?? "",
      object: clone(obj),
      old: old && clone(old),
    });
    return obj;
  }

  /** Removes an object; the DELETED event carries its last state with a new resourceVersion. */
  delete(t: Pick<ResourceType, "group" | "resource">, ns: string, name: string): Obj | undefined {
    const map = this.objects.get(typeKey(t));
    const k = objKey(ns, name);
    const old = map?.get(k);
    if (!map || !old) return undefined;
    map.delete(k);
    const last = clone(old);
    meta(last).resourceVersion = String(++this.rv);
    this.emit({
      type: "DELETED",
      rv: this.rv,
      group: t.group,
      resource: t.resource,
      namespace: ns,
      name,
      object: clone(last),
      old: clone(old),
    });
    return last;
  }

  /** Events with rv > `after`, oldest first (undefined if `after` is older than the history). */
  eventsSince(after: number): StoreEvent[] | undefined {
    if (after < this.oldestRv()) return undefined;
    return this.history.filter((e) => e.rv > after);
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(l: StoreListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Every object, for persistence. */
  dump(): { rv: number; objects: [string, Obj][] } {
    const objects: [string, Obj][] = [];
    for (const [tk, m] of this.objects) for (const [k, o] of m) objects.push([`${tk}/${k}`, o]);
    return { rv: this.rv, objects };
  }

  /** Restores a dump (history starts empty). */
  load(d: { rv: number; objects: [string, Obj][] }): void {
    this.rv = d.rv;
    this.objects.clear();
    for (const [k, o] of d.objects) {
      const [group, resource, ...rest] = k.split("/");
      this.typeMap({ group: group ?? "", resource: resource ?? "" }).set(rest.join("/"), o);
    }
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > this.historySize)
      this.history.splice(0, this.history.length - this.historySize);
    for (const l of [...this.listeners]) l(e);
  }
}

function sameIgnoringTimes(a: Obj, b: Obj): boolean {
  const strip = (o: Obj): Obj => {
    const c = clone(o);
    const m = meta(c);
    delete m.resourceVersion;
    if (Array.isArray(m.managedFields))
      m.managedFields = m.managedFields.map((f) => ({ ...(f as Obj), time: undefined }));
    return c;
  };
  return deepEqual(strip(a), strip(b));
}
