import type { KubernetesResourceMatcher } from "@pipecd-ts/config";
import type { InformerHandler, KubeClient, KubeObject } from "@pipecd-ts/kube";
import {
  Annotation,
  hashSecretData,
  manifestKey,
  resourceHealth,
  type Health,
} from "@pipecd-ts/plugin-kubernetes";
import type { Logger, Service } from "@pipecd-ts/runtime";

/** A kind the store can watch, in a namespace (undefined: every namespace, or cluster-scoped). */
export interface KindRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
}

/** One live object as the store keeps it. */
export interface LiveNode {
  uid: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  /** apiVersion:kind:namespace:name. */
  key: string;
  ownerUids: string[];
  createdAt: string;
  health: Health;
  /** The object without managedFields (Secret values as hashes); only for an app's own objects. */
  object?: KubeObject;
  /** The app it belongs to by its annotations (a managing node), if any. */
  appId?: string;
  /** The informer that delivered it. */
  source: string;
}

/** Options of {@link LiveStateStore}. */
export interface LiveStateStoreOptions {
  kube: Pick<KubeClient, "inform">;
  pipedId: string;
  /** `appStateInformer.namespace`: only this namespace (empty: all). */
  namespace: string;
  /** `appStateInformer.includeResources` / `excludeResources`. */
  include: readonly KubernetesResourceMatcher[];
  exclude: readonly KubernetesResourceMatcher[];
  logger: Logger;
}

/** A change to some applications' live objects; `managing` when one of their own objects changed. */
export type LiveChange = (appIds: ReadonlySet<string>, managing: boolean) => void;

/** The kinds whose objects a workload creates (they carry ownerReferences, not our annotations). */
const DEPENDENTS: Readonly<Record<string, readonly KindRef[]>> = {
  "apps/v1:Deployment": [{ apiVersion: "apps/v1", kind: "ReplicaSet" }],
  "apps/v1:ReplicaSet": [{ apiVersion: "v1", kind: "Pod" }],
  "apps/v1:StatefulSet": [{ apiVersion: "v1", kind: "Pod" }],
  "apps/v1:DaemonSet": [{ apiVersion: "v1", kind: "Pod" }],
  "batch/v1:Job": [{ apiVersion: "v1", kind: "Pod" }],
  "batch/v1:CronJob": [{ apiVersion: "batch/v1", kind: "Job" }],
};

/** How long watch() waits for a kind's first list. */
const LIST_WAIT_MS = 30_000;
/** A kind that cannot be watched is tried again after this long. */
const RETRY_FAILED_MS = 5 * 60_000;

const kindKey = (k: Pick<KindRef, "apiVersion" | "kind">): string => `${k.apiVersion}:${k.kind}`;
/** One informer: a kind in a namespace ("*": all). */
const informerKey = (k: KindRef): string => `${kindKey(k)}@${k.namespace ?? "*"}`;

/** Whether a `{apiVersion, kind}` matcher (kind empty: every kind of the version) matches. */
function matches(
  ms: readonly KubernetesResourceMatcher[],
  k: Pick<KindRef, "apiVersion" | "kind">,
): boolean {
  return ms.some((m) => m.apiVersion === k.apiVersion && (!m.kind || m.kind === k.kind));
}

/**
 * The piped's view of the cluster (PipeCD `livestatestore/kubernetes`): an informer (list, then
 * watch with resume) per kind, started when an application's manifests first name the kind,
 * with the kinds its workloads create (Deployment → ReplicaSet → Pod). Objects are grouped per
 * application: a managing node carries `pipecd.dev/application` and no ownerReferences (and its
 * `pipecd.dev/original-api-version` is its own apiVersion, so a kind served in two versions
 * counts once); depended nodes hang off them by ownerReferences. Objects of another piped are
 * ignored. Secrets are kept with their values hashed, never in clear; depended objects are kept
 * as metadata and health only.
 */
export class LiveStateStore implements Service {
  readonly name = "live-state-store";
  private readonly nodes = new Map<string, LiveNode>();
  private readonly byKind = new Map<string, Set<string>>();
  private readonly children = new Map<string, Set<string>>();
  private readonly roots = new Map<string, Set<string>>();
  private readonly watched = new Map<string, Promise<void>>();
  /** Kinds whose first list has arrived. */
  private readonly synced = new Set<string>();
  /** Informers that ended for good (forbidden, not served), with why. */
  private readonly failed = new Map<string, string>();
  private readonly syncWaiters = new Map<string, (() => void)[]>();
  private readonly listeners = new Set<LiveChange>();
  private signal: AbortSignal | undefined;
  private pendingKinds: KindRef[] = [];

  constructor(private readonly o: LiveStateStoreOptions) {}

  /** Calls `l` after every change, with the applications it touched. */
  onChange(l: LiveChange): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    for (const k of this.pendingKinds.splice(0)) this.startKind(k);
    for (const k of this.o.include.filter((m) => m.kind))
      this.startKind({
        apiVersion: k.apiVersion,
        kind: k.kind,
        namespace: this.o.namespace || undefined,
      });
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    // Whoever waits for a list (a drift check) goes on: the piped is stopping.
    for (const key of [...this.syncWaiters.keys()]) this.markSynced(key);
    await Promise.allSettled(this.watched.values());
  }

  /**
   * Watches `kinds` (and what their workloads create) from now on; resolves once each has been
   * listed, so that a caller comparing with Git does not see an object as missing that is only
   * not listed yet. Kinds in `excludeResources` are never watched. Returns, for each kind that
   * cannot be watched (forbidden, not served), `<kind> in <namespace>: <why>`.
   */
  async watch(kinds: readonly KindRef[]): Promise<string[]> {
    const all = new Map<string, KindRef>();
    const add = (k: KindRef): void => {
      // appStateInformer.namespace wins; else the namespace the manifest names.
      const ref = { ...k, namespace: this.o.namespace || k.namespace || undefined };
      if (all.has(informerKey(ref)) || matches(this.o.exclude, ref)) return;
      all.set(informerKey(ref), ref);
      for (const d of DEPENDENTS[kindKey(ref)] ?? []) add({ ...d, namespace: ref.namespace });
    };
    for (const k of kinds) add(k);
    const waits: Promise<void>[] = [];
    for (const [key, k] of all) {
      if (!this.watched.has(key)) {
        if (this.signal) this.startKind(k);
        else this.pendingKinds.push(k);
      }
      if (!this.synced.has(key))
        waits.push(
          new Promise<void>((resolve) => {
            const list = this.syncWaiters.get(key) ?? [];
            list.push(resolve);
            this.syncWaiters.set(key, list);
          }),
        );
    }
    // A list that keeps failing (the API server overloaded, a conversion webhook down) must not
    // hold the caller: after a while the kinds not listed yet count as unreadable.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, LIST_WAIT_MS))),
    ]);
    clearTimeout(timer);
    return [...all.keys()].flatMap((key) => {
      const why = this.failed.get(key) ?? (this.synced.has(key) ? undefined : "not listed yet");
      return why === undefined ? [] : [`${key.replace("@", " in ")}: ${why}`];
    });
  }

  /** Whether `excludeResources` leaves a kind out of the live state (and so of drift). */
  isExcluded(k: Pick<KindRef, "apiVersion" | "kind">): boolean {
    return matches(this.o.exclude, k);
  }

  /** An application's own objects (managing nodes). */
  managing(appId: string): LiveNode[] {
    return [...(this.roots.get(appId) ?? [])]
      .map((uid) => this.nodes.get(uid))
      .filter((n): n is LiveNode => n !== undefined);
  }

  /** An application's objects and everything they own, parents before children. */
  tree(appId: string): LiveNode[] {
    const out: LiveNode[] = [];
    const seen = new Set<string>();
    const visit = (uid: string): void => {
      if (seen.has(uid)) return;
      seen.add(uid);
      const n = this.nodes.get(uid);
      if (!n) return;
      out.push(n);
      for (const c of this.children.get(uid) ?? []) visit(c);
    };
    for (const uid of this.roots.get(appId) ?? []) visit(uid);
    return out;
  }

  /** Applications that have live objects. */
  applications(): string[] {
    return [...this.roots.keys()];
  }

  private startKind(k: KindRef): void {
    const key = informerKey(k);
    if (this.watched.has(key) || !this.signal) return;
    const signal = this.signal;
    const handler: InformerHandler = {
      replace: (objects) => this.replace(key, objects),
      upsert: (obj) => this.apply(key, obj),
      remove: (obj) => this.remove(obj.metadata.uid ?? ""),
    };
    this.o.logger.info({ kind: kindKey(k), namespace: k.namespace ?? "*" }, "watching kind");
    const run = this.o.kube
      .inform(k.apiVersion, k.kind, k.namespace, handler, signal)
      .catch((err: unknown) => {
        if (signal.aborted) return;
        // Not served (no CRD) or not allowed (RBAC): what waits for it goes on without it.
        this.o.logger.warn(
          { kind: kindKey(k), namespace: k.namespace ?? "*", err: (err as Error).message },
          "cannot watch kind: its objects are not in the live state",
        );
        this.failed.set(key, (err as Error).message);
        this.markSynced(key);
        // Tried again by the next watch() after a while (RBAC fixed, the CRD installed).
        const retry = setTimeout(() => {
          this.watched.delete(key);
          this.failed.delete(key);
          this.synced.delete(key);
        }, RETRY_FAILED_MS);
        retry.unref?.();
      });
    this.watched.set(key, run);
  }

  private markSynced(key: string): void {
    this.synced.add(key);
    for (const w of this.syncWaiters.get(key) ?? []) w();
    this.syncWaiters.delete(key);
  }

  private replace(key: string, objects: KubeObject[]): void {
    const touched = new Set<string>();
    let managing = false;
    const keep = new Set(objects.map((o) => o.metadata.uid ?? ""));
    for (const uid of this.byKind.get(key) ?? [])
      if (!keep.has(uid)) managing = this.drop(uid, touched) || managing;
    for (const o of objects) managing = this.put(key, o, touched) || managing;
    this.markSynced(key);
    this.emit(touched, managing);
  }

  private apply(key: string, obj: KubeObject): void {
    const touched = new Set<string>();
    const managing = this.put(key, obj, touched);
    this.emit(touched, managing);
  }

  private remove(uid: string): void {
    const touched = new Set<string>();
    const managing = this.drop(uid, touched);
    this.emit(touched, managing);
  }

  private emit(touched: Set<string>, managing: boolean): void {
    if (touched.size === 0) return;
    for (const l of this.listeners) l(touched, managing);
  }

  /** The application a node belongs to: its own annotation, else its owners'. */
  private appOf(uid: string, depth = 0): string | undefined {
    const n = this.nodes.get(uid);
    if (!n || depth > 8) return undefined;
    if (n.appId) return n.appId;
    for (const o of n.ownerUids) {
      const a = this.appOf(o, depth + 1);
      if (a) return a;
    }
    return undefined;
  }

  /** Stores an object; adds the apps it touched; true when it is an app's own object. */
  private put(source: string, obj: KubeObject, touched: Set<string>): boolean {
    const uid = obj.metadata.uid;
    if (!uid) return false;
    const ann = obj.metadata.annotations ?? {};
    const ownPiped = ann[Annotation.PIPED];
    if (ownPiped && ownPiped !== this.o.pipedId) return false;
    const owners = (obj.metadata.ownerReferences ?? []).map((r) => r.uid);
    const appId =
      ann[Annotation.APPLICATION] &&
      owners.length === 0 &&
      (ann[Annotation.ORIGINAL_API_VERSION] ?? obj.apiVersion) === obj.apiVersion
        ? ann[Annotation.APPLICATION]
        : undefined;
    const prev = this.nodes.get(uid);
    const before = prev ? this.appOf(uid) : undefined;
    if (prev) this.unlink(prev);
    const node: LiveNode = {
      uid,
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace: obj.metadata.namespace ?? "",
      key: manifestKey(obj),
      ownerUids: owners,
      createdAt: obj.metadata.creationTimestamp ?? "",
      health: resourceHealth(obj),
      source,
      ...(appId ? { appId, object: trimmed(obj) } : {}),
    };
    this.nodes.set(uid, node);
    let kindSet = this.byKind.get(source);
    if (!kindSet) this.byKind.set(source, (kindSet = new Set()));
    kindSet.add(uid);
    for (const o of owners) {
      let c = this.children.get(o);
      if (!c) this.children.set(o, (c = new Set()));
      c.add(uid);
    }
    if (appId) {
      let r = this.roots.get(appId);
      if (!r) this.roots.set(appId, (r = new Set()));
      r.add(uid);
    }
    const after = this.appOf(uid);
    if (before) touched.add(before);
    if (after) touched.add(after);
    return Boolean(appId || prev?.appId);
  }

  private drop(uid: string, touched: Set<string>): boolean {
    const n = this.nodes.get(uid);
    if (!n) return false;
    const app = this.appOf(uid);
    if (app) touched.add(app);
    this.unlink(n);
    this.nodes.delete(uid);
    this.byKind.get(n.source)?.delete(uid);
    return n.appId !== undefined;
  }

  private unlink(n: LiveNode): void {
    for (const o of n.ownerUids) {
      const c = this.children.get(o);
      c?.delete(n.uid);
      if (c?.size === 0) this.children.delete(o);
    }
    if (n.appId) {
      const r = this.roots.get(n.appId);
      r?.delete(n.uid);
      if (r?.size === 0) this.roots.delete(n.appId);
    }
  }
}

/** What is kept of an app's own object: no managedFields, Secret values hashed. */
function trimmed(obj: KubeObject): KubeObject {
  const { managedFields: _m, ...metadata } = obj.metadata;
  return hashSecretData({ ...obj, metadata });
}
