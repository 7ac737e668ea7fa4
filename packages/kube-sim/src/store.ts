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

const key = (group: string, resource: string, ns: string, name: string): string =>
  `${group}/${resource}/${ns}/${name}`;

/**
 * In-memory object storage with one global resourceVersion counter (like the etcd revision), a
 * bounded event history for watches that resume from a version, and synchronous listeners.
 * Objects are deep-copied in and out.
 */
export class Store {
  private rv = 1;
  private readonly objects = new Map<string, Obj>();
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

  /** A copy of the stored object, if any. */
  get(t: Pick<ResourceType, "group" | "resource">, ns: string, name: string): Obj | undefined {
    const o = this.objects.get(key(t.group, t.resource, ns, name));
    return o ? clone(o) : undefined;
  }

  /** Copies of all objects of a type (in `ns` if given), ordered by namespace then name. */
  list(t: Pick<ResourceType, "group" | "resource">, ns?: string): Obj[] {
    const prefix =
      ns === undefined ? `${t.group}/${t.resource}/` : key(t.group, t.resource, ns, "");
    const out: [string, Obj][] = [];
    for (const [k, o] of this.objects) if (k.startsWith(prefix)) out.push([k, o]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return out.map(([, o]) => clone(o));
  }

  /** Stores a new object, assigning the next resourceVersion. */
  create(t: Pick<ResourceType, "group" | "resource">, obj: Obj): Obj {
    const m = meta(obj);
    m.resourceVersion = String(++this.rv);
    const ns = m.namespace ?? "";
    this.objects.set(key(t.group, t.resource, ns, m.name ?? ""), clone(obj));
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
    const k = key(t.group, t.resource, ns, m.name ?? "");
    const old = this.objects.get(k);
    if (old && sameIgnoringTimes(old, obj)) return clone(old);
    m.resourceVersion = String(++this.rv);
    this.objects.set(k, clone(obj));
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
    const k = key(t.group, t.resource, ns, name);
    const old = this.objects.get(k);
    if (!old) return undefined;
    this.objects.delete(k);
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
    return { rv: this.rv, objects: [...this.objects] };
  }

  /** Restores a dump (history starts empty). */
  load(d: { rv: number; objects: [string, Obj][] }): void {
    this.rv = d.rv;
    this.objects.clear();
    for (const [k, o] of d.objects) this.objects.set(k, o);
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
