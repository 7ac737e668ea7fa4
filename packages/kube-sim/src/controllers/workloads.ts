import { randomUUID } from "node:crypto";
import { clone, isObj, k8sTime, meta, type Obj, type OwnerReference } from "../object.js";
import type { Objects } from "../objects.js";
import type { Registry, ResourceType } from "../registry.js";
import { StatusError } from "../status.js";
import type { Store, StoreEvent } from "../store.js";

/** Template annotation that keeps pods from ever becoming Ready (failure tests). */
export const NEVER_READY_ANNOTATION = "kube-sim.pipecd.dev/never-ready";
const REVISION = "deployment.kubernetes.io/revision";
const SAFE = "bcdfghjklmnpqrstvwxz2456789";

/** Options of {@link WorkloadController}. */
export interface WorkloadControllerOptions {
  store: Store;
  registry: Registry;
  objects: Objects;
  /** How long a new pod takes to become Ready. */
  readyDelayMs: number;
}

/** FNV-1a 32-bit hash of the pod template, encoded like the controller's pod-template-hash. */
export function podTemplateHash(template: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(stableJson(template))) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let out = "";
  let n = h;
  do {
    out += SAFE[n % SAFE.length];
    n = Math.floor(n / SAFE.length);
  } while (n > 0);
  return out;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

const num = (v: unknown, d = 0): number => (typeof v === "number" ? v : d);

/** Resolves maxSurge/maxUnavailable: percentages of `total`, surge rounded up, unavailable down. */
function intOrPercent(v: unknown, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === "number") return x;
  const m = /^(\d+)%$/.exec(typeof x === "string" ? x : "");
  if (!m) return 0;
  const f = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(f) : Math.floor(f);
}

/**
 * The Deployment and ReplicaSet controllers: ReplicaSets per pod-template hash with owner
 * references, Pods that become Ready after `readyDelayMs`, Deployment status and conditions as
 * the real controller computes them (reference §4.1), old ReplicaSets scaled down as the new one
 * becomes available, and ProgressDeadlineExceeded after `progressDeadlineSeconds`.
 */
export class WorkloadController {
  private readonly queue = new Set<string>();
  private scheduled = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly deploy: ResourceType;
  private readonly rs: ResourceType;
  private readonly pod: ResourceType;

  constructor(private readonly o: WorkloadControllerOptions) {
    const get = (g: string, r: string): ResourceType => {
      const t = o.registry.get(g, r);
      if (!t) throw new Error(`kube-sim: ${r} not registered`);
      return t;
    };
    this.deploy = get("apps", "deployments");
    this.rs = get("apps", "replicasets");
    this.pod = get("", "pods");
  }

  /** Starts reacting to changes (and reconciles what exists). */
  start(): void {
    this.unsubscribe = this.o.store.subscribe((e) => this.onEvent(e));
    for (const d of this.o.store.list(this.deploy))
      this.enqueue("d", meta(d).namespace ?? "", meta(d).name ?? "");
    for (const r of this.o.store.list(this.rs))
      this.enqueue("r", meta(r).namespace ?? "", meta(r).name ?? "");
  }

  /** Stops timers and listeners. */
  stop(): void {
    // A drain already queued by setImmediate still runs after stop; the flag keeps it from
    // arming new timers (a progress deadline is 600 s and would hold the process open).
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onEvent(e: StoreEvent): void {
    if (e.group === "apps" && e.resource === "deployments" && e.type !== "DELETED")
      this.enqueue("d", e.namespace, e.name);
    if (e.group === "apps" && e.resource === "replicasets") {
      if (e.type !== "DELETED") this.enqueue("r", e.namespace, e.name);
      this.enqueueOwner(e.object, "Deployment", "d", e.namespace);
    }
    if (e.group === "" && e.resource === "pods")
      this.enqueueOwner(e.object, "ReplicaSet", "r", e.namespace);
  }

  private enqueueOwner(o: Obj, kind: string, tag: string, ns: string): void {
    for (const ref of meta(o).ownerReferences ?? [])
      if (ref.kind === kind) this.enqueue(tag, ns, ref.name);
  }

  private enqueue(tag: string, ns: string, name: string): void {
    this.queue.add(`${tag}/${ns}/${name}`);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const keys = [...this.queue];
    this.queue.clear();
    for (const k of keys) {
      const [tag, ns, name] = k.split("/") as [string, string, string];
      try {
        if (tag === "d") this.syncDeployment(ns, name);
        else this.syncReplicaSet(ns, name);
      } catch (err) {
        // A conflicting concurrent write: try again on the next tick, like a real controller.
        if (err instanceof StatusError && (err.code === 404 || err.code === 409)) continue;
        throw err;
      }
    }
  }

  /** Objects controlled by `uid`: read-only views of the store (never mutate them). */
  private owned(t: ResourceType, ns: string, uid: string): Obj[] {
    const controlled = (x: Obj): boolean =>
      (meta(x).ownerReferences ?? []).some((r) => r.uid === uid && r.controller);
    return this.o.store.scan(t, ns, controlled) as Obj[];
  }

  private ownerRef(o: Obj, apiVersion: string, kind: string): OwnerReference {
    return {
      apiVersion,
      kind,
      name: meta(o).name ?? "",
      uid: meta(o).uid ?? "",
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private syncDeployment(ns: string, name: string): void {
    const d = this.o.store.get(this.deploy, ns, name);
    if (!d || meta(d).deletionTimestamp) return;
    const dm = meta(d);
    const spec = (d.spec ?? {}) as Obj;
    const desired = num(spec.replicas, 1);
    const template = clone((spec.template ?? {}) as Obj);
    const hash = podTemplateHash(template);
    const rss = this.owned(this.rs, ns, dm.uid ?? "");
    const revOf = (r: Obj): number => Number(meta(r).annotations?.[REVISION] ?? "0");
    let newRs = rss.find((r) => meta(r).labels?.["pod-template-hash"] === hash);
    const olds = rss.filter((r) => r !== newRs).sort((a, b) => revOf(b) - revOf(a));
    const maxRev = Math.max(0, ...rss.map(revOf));
    let createdNew = false;
    if (!newRs) {
      const labels = {
        ...((template.metadata as Obj | undefined)?.labels as Record<string, string> | undefined),
        "pod-template-hash": hash,
      };
      const tmeta = { ...((template.metadata as Obj | undefined) ?? {}), labels };
      const sel = clone((spec.selector ?? {}) as Obj);
      sel.matchLabels = {
        ...(sel.matchLabels ?? {}),
        "pod-template-hash": hash,
      };
      const rsObj: Obj = {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels,
          annotations: {
            [REVISION]: String(maxRev + 1),
            "deployment.kubernetes.io/desired-replicas": String(desired),
            "deployment.kubernetes.io/max-replicas": String(
              desired +
                intOrPercent(
                  (spec.strategy as Obj | undefined)?.rollingUpdate &&
                    ((spec.strategy as Obj).rollingUpdate as Obj).maxSurge,
                  desired,
                  true,
                  "25%",
                ),
            ),
          },
          ownerReferences: [this.ownerRef(d, "apps/v1", "Deployment")],
        },
        spec: { replicas: 0, selector: sel, template: { ...template, metadata: tmeta } },
      };
      newRs = this.o.objects.create(this.rs, ns, rsObj, {
        manager: "kube-controller-manager",
        version: "v1",
      });
      createdNew = true;
    }
    // Scale: the new ReplicaSet to the desired count at once; old ones down as new pods become
    // available, keeping spec.replicas - maxUnavailable available.
    const newAvailable = num((newRs.status as Obj | undefined)?.availableReplicas);
    const strategy = (spec.strategy ?? {}) as Obj;
    const recreate = strategy.type === "Recreate";
    const maxUnavailable = recreate
      ? desired
      : intOrPercent(
          (strategy.rollingUpdate as Obj | undefined)?.maxUnavailable,
          desired,
          false,
          "25%",
        );
    let oldBudget = Math.max(0, desired - maxUnavailable - newAvailable);
    if (recreate) oldBudget = 0;
    for (const r of olds) {
      const cur = num((r.spec as Obj).replicas);
      const avail = num((r.status as Obj | undefined)?.availableReplicas);
      const keep = Math.min(cur, Math.min(avail, oldBudget));
      oldBudget -= keep;
      if (keep !== cur) this.setReplicas(r, keep);
    }
    // Keep at most revisionHistoryLimit old ReplicaSets that are fully scaled down (oldest go).
    const limit = num(spec.revisionHistoryLimit, 10);
    const idle = olds.filter(
      (r) =>
        num((r.spec as Obj).replicas) === 0 && num((r.status as Obj | undefined)?.replicas) === 0,
    );
    for (const r of idle.slice(limit)) {
      try {
        this.o.objects.delete(this.rs, ns, meta(r).name ?? "", {});
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
    const oldPods = olds.reduce((n, r) => n + num((r.status as Obj | undefined)?.replicas), 0);
    const newTarget = recreate && oldPods > 0 ? 0 : desired;
    if (num((newRs.spec as Obj).replicas) !== newTarget) newRs = this.setReplicas(newRs, newTarget);
    this.writeDeploymentStatus(d, newRs, olds, createdNew, maxRev + (createdNew ? 1 : 0));
  }

  private setReplicas(r: Obj, n: number): Obj {
    const next = clone(r);
    (next.spec as Obj).replicas = n;
    const ann = meta(next).annotations ?? {};
    meta(next).annotations = ann;
    return this.o.objects.controllerUpdate(this.rs, next);
  }

  private writeDeploymentStatus(
    d: Obj,
    newRs: Obj,
    olds: Obj[],
    createdNew: boolean,
    revision: number,
  ): void {
    const dm = meta(d);
    const spec = (d.spec ?? {}) as Obj;
    const desired = num(spec.replicas, 1);
    const all = [newRs, ...olds];
    const st = (r: Obj, k: string): number => num((r.status as Obj | undefined)?.[k]);
    const replicas = all.reduce((n, r) => n + st(r, "replicas"), 0);
    const updated = st(newRs, "replicas");
    const ready = all.reduce((n, r) => n + st(r, "readyReplicas"), 0);
    const available = all.reduce((n, r) => n + st(r, "availableReplicas"), 0);
    const specTotal = all.reduce((n, r) => n + num((r.spec as Obj).replicas), 0);
    const old = (d.status ?? {}) as Obj;
    const oldConds = (Array.isArray(old.conditions) ? old.conditions : []) as Obj[];
    const now = k8sTime();
    const cond = (type: string, status: string, reason: string, message: string): Obj => {
      const prev = oldConds.find((c) => c.type === type);
      const same = prev && prev.status === status && prev.reason === reason;
      return {
        type,
        status,
        lastUpdateTime: same ? prev.lastUpdateTime : now,
        lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
        reason,
        message,
      };
    };
    const maxUnavailable = intOrPercent(
      ((spec.strategy ?? {}) as Obj).rollingUpdate &&
        ((spec.strategy as Obj).rollingUpdate as Obj).maxUnavailable,
      desired,
      false,
      "25%",
    );
    const conditions: Obj[] = [
      available >= desired - maxUnavailable
        ? cond(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
          )
        : cond(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
          ),
    ];
    const rsName = meta(newRs).name ?? "";
    const complete = updated === desired && replicas === desired && available === desired;
    const prevProg = oldConds.find((c) => c.type === "Progressing");
    const deadline = num(spec.progressDeadlineSeconds, 600);
    if (complete) {
      conditions.push(
        cond(
          "Progressing",
          "True",
          "NewReplicaSetAvailable",
          `ReplicaSet "${rsName}" has successfully progressed.`,
        ),
      );
    } else if (prevProg?.reason === "ProgressDeadlineExceeded" && !createdNew) {
      conditions.push(prevProg);
    } else {
      const progressed =
        createdNew ||
        updated > num(old.updatedReplicas) ||
        available > num(old.availableReplicas) ||
        replicas - updated < num(old.replicas) - num(old.updatedReplicas);
      const since =
        prevProg && typeof prevProg.lastUpdateTime === "string"
          ? Date.parse(prevProg.lastUpdateTime)
          : Date.now();
      if (!progressed && prevProg && Date.now() - since >= deadline * 1000) {
        conditions.push(
          cond(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            `ReplicaSet "${rsName}" has timed out progressing.`,
          ),
        );
      } else {
        const c = createdNew
          ? cond(
              "Progressing",
              "True",
              "NewReplicaSetCreated",
              `Created new replica set "${rsName}"`,
            )
          : progressed || !prevProg
            ? {
                ...cond(
                  "Progressing",
                  "True",
                  "ReplicaSetUpdated",
                  `ReplicaSet "${rsName}" is progressing.`,
                ),
                lastUpdateTime: now,
              }
            : prevProg;
        conditions.push(c);
        // Re-check when the deadline would pass without progress.
        const lu = typeof c.lastUpdateTime === "string" ? Date.parse(c.lastUpdateTime) : Date.now();
        this.after(Math.max(50, lu + deadline * 1000 - Date.now() + 50), () =>
          this.enqueue("d", dm.namespace ?? "", dm.name ?? ""),
        );
      }
    }
    const status: Obj = {
      observedGeneration: dm.generation,
      replicas,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: available,
      ...(specTotal - available > 0 ? { unavailableReplicas: specTotal - available } : {}),
      conditions,
    };
    for (const k of ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"])
      if (status[k] === 0) delete status[k];
    const next = clone(d);
    next.status = status;
    meta(next).annotations = {
      ...(dm.annotations ?? {}),
      [REVISION]: String(Math.max(revision, Number(meta(newRs).annotations?.[REVISION] ?? "0"))),
    };
    this.o.objects.writeStatus(this.deploy, next);
  }

  private syncReplicaSet(ns: string, name: string): void {
    const r = this.o.store.get(this.rs, ns, name);
    if (!r || meta(r).deletionTimestamp) return;
    const want = num((r.spec as Obj).replicas, 1);
    const pods = this.owned(this.pod, ns, meta(r).uid ?? "").filter(
      (p) => !meta(p).deletionTimestamp,
    );
    const template = ((r.spec as Obj).template ?? {}) as Obj;
    if (pods.length < want) {
      for (let i = pods.length; i < want; i++) this.createPod(r, template);
    } else if (pods.length > want) {
      const isReady = (p: Obj): boolean => (p.status as Obj | undefined)?.phase === "Running";
      const victims = [...pods]
        .sort((a, b) => Number(isReady(a)) - Number(isReady(b)))
        .slice(0, pods.length - want);
      for (const p of victims) {
        try {
          this.o.objects.delete(this.pod, ns, meta(p).name ?? "", {});
        } catch (err) {
          if (!(err instanceof StatusError && err.code === 404)) throw err;
        }
      }
    }
    const now = this.owned(this.pod, ns, meta(r).uid ?? "");
    const ready = now.filter((p) => (p.status as Obj | undefined)?.phase === "Running").length;
    const status: Obj = {
      replicas: now.length,
      fullyLabeledReplicas: now.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: meta(r).generation,
    };
    for (const k of ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"])
      if (status[k] === 0) delete status[k];
    const next = clone(r);
    next.status = status;
    this.o.objects.writeStatus(this.rs, next);
  }

  private createPod(r: Obj, template: Obj): void {
    const ns = meta(r).namespace ?? "";
    const tm = (template.metadata ?? {}) as Obj;
    let suffix = "";
    for (let i = 0; i < 5; i++) suffix += SAFE[Math.floor(Math.random() * SAFE.length)];
    const podName = `${meta(r).name ?? ""}-${suffix}`;
    const neverReady =
      (tm.annotations as Record<string, string> | undefined)?.[NEVER_READY_ANNOTATION] === "true";
    const pod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: podName,
        namespace: ns,
        labels: { ...((tm.labels as Record<string, string> | undefined) ?? {}) },
        ...(tm.annotations
          ? { annotations: { ...(tm.annotations as Record<string, string>) } }
          : {}),
        ownerReferences: [this.ownerRef(r, "apps/v1", "ReplicaSet")],
      },
      spec: { ...clone((template.spec ?? {}) as Obj), nodeName: "kube-sim-node" },
    };
    this.o.objects.create(this.pod, ns, pod, { manager: "kube-controller-manager", version: "v1" });
    const created = this.o.store.get(this.pod, ns, podName);
    if (created) {
      created.status = {
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: k8sTime() }],
        hostIP: "10.0.0.1",
        startTime: k8sTime(),
      };
      this.o.objects.writeStatus(this.pod, created);
    }
    if (neverReady) return;
    this.after(this.o.readyDelayMs, () => {
      const p = this.o.store.get(this.pod, ns, podName);
      if (!p || meta(p).deletionTimestamp) return;
      const containers = (((p.spec as Obj).containers ?? []) as Obj[]).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `docker.io/library/${String(c.image)}@sha256:${randomUUID().replace(/-/g, "")}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: k8sTime() } },
      }));
      const t = k8sTime();
      p.status = {
        phase: "Running",
        conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
          type,
          status: "True",
          lastTransitionTime: t,
        })),
        hostIP: "10.0.0.1",
        podIP: `10.244.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`,
        startTime: (p.status as Obj | undefined)?.startTime ?? t,
        containerStatuses: containers,
      };
      this.o.objects.writeStatus(this.pod, p);
    });
  }
}
