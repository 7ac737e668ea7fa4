import { randomUUID } from "node:crypto";
import { applyDefaults } from "./defaults.js";
import { clone, deepEqual, isObj, k8sTime, meta, objects, type Obj } from "./object.js";
import {
  PatchError,
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  builtinSmpSchema,
  listTypesFromSmp,
  recordUpdate,
  serverSideApply,
  type Json,
} from "./patch/index.js";
import { apiVersionOf, qualifiedResource, type Registry, type ResourceType } from "./registry.js";
import { strictDecodingMessage, validateCustomResource, type FieldError } from "./schema/index.js";
import {
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  unsupportedMediaType,
} from "./status.js";
import type { Store } from "./store.js";
import { validateBuiltin, validateName, type Cause } from "./validate.js";

/** How a write was requested. */
export interface WriteOptions {
  /** Field manager (query `fieldManager`, else the User-Agent prefix). */
  manager: string;
  dryRun?: boolean;
  fieldValidation?: "Strict" | "Warn" | "Ignore";
  /** Version the caller used (custom resources are converted to/from storage). */
  version: string;
  /** Collected `Warning` header values. */
  warnings?: string[];
}

/** Patch media types accepted by PATCH. */
export type PatchType = "json" | "merge" | "strategic" | "apply";

/** DeleteOptions (body and query merged). */
export interface DeleteOptions {
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";
const IMMORTAL_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

/**
 * The semantics of object writes (create/update/patch/delete) shared by the HTTP API and the
 * in-process controllers: metadata rules, defaulting, validation, status/scale subresources,
 * managedFields, custom-resource versions, finalizers and garbage collection.
 */
export class Objects {
  private nextIp = 10;

  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Reads an object as `version` of its type. */
  get(t: ResourceType, ns: string, name: string, version = t.storageVersion): Obj {
    const o = this.store.get(t, ns, name);
    if (!o) throw notFound(t, name);
    return this.present(t, o, version);
  }

  /** Sets apiVersion/kind as seen through `version`. */
  present(t: ResourceType, o: Obj, version: string): Obj {
    o.apiVersion = apiVersionOf(t.group, version);
    o.kind = t.kind;
    return o;
  }

  private requireNamespace(t: ResourceType, ns: string): void {
    if (!t.namespaced) return;
    const nsType = this.registry.get("", "namespaces");
    if (!nsType) return;
    const n = this.store.get(nsType, "", ns);
    if (!n)
      throw new StatusError(404, "NotFound", `namespaces "${ns}" not found`, {
        name: ns,
        kind: "namespaces",
      });
    if (meta(n).deletionTimestamp)
      throw new StatusError(
        403,
        "Forbidden",
        `${qualifiedResource(t)} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        { kind: t.resource },
      );
  }

  /** Creates an object (POST). */
  create(t: ResourceType, ns: string, body: Obj, o: WriteOptions, managedFields?: unknown[]): Obj {
    const obj = clone(body);
    const m = meta(obj);
    if (t.namespaced) {
      if (m.namespace && m.namespace !== ns)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      m.namespace = ns;
    } else delete m.namespace;
    this.checkTypeMeta(t, obj, o.version);
    if (!m.name && m.generateName) {
      let suffix = "";
      for (let i = 0; i < 5; i++)
        suffix += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
      m.name = `${m.generateName}${suffix}`;
    }
    if (!m.name)
      throw invalid(this.kindWithGroup(t), t, t.kind, "", [
        {
          reason: "FieldValueRequired",
          field: "metadata.name",
          message: "Required value: name or generateName is required",
        },
      ]);
    const nameErrors = validateName(t.kind, m.name);
    if (nameErrors.length) throw invalid(this.kindWithGroup(t), t, t.kind, m.name, nameErrors);
    if (t.namespaced) this.requireNamespace(t, ns);
    if (this.store.get(t, t.namespaced ? ns : "", m.name)) throw alreadyExists(t, m.name);
    // Status is server-owned on create for types with a status subresource.
    if (t.statusSubresource) delete obj.status;
    // A new pod is Pending with its QoS class from the start (the pod strategy's
    // PrepareForCreate), before any controller writes its status.
    if (t.group === "" && t.kind === "Pod")
      obj.status = { phase: "Pending", qosClass: podQos(obj) };
    m.uid = randomUUID();
    m.creationTimestamp = k8sTime(this.now());
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    if (t.generation !== "none") m.generation = 1;
    else delete m.generation;
    if (managedFields) meta(obj).managedFields = managedFields;
    const stored = this.finishWrite(t, obj, undefined, o, managedFields !== undefined);
    if (o.dryRun) return this.present(t, stored, o.version);
    this.store.create(t, stored);
    return this.present(t, stored, o.version);
  }

  /** Replaces an object (PUT), the main resource or its status. */
  update(
    t: ResourceType,
    ns: string,
    name: string,
    body: Obj,
    o: WriteOptions,
    subresource?: "status",
  ): Obj {
    const old = this.store.get(t, ns, name);
    if (!old) throw notFound(t, name);
    const obj = clone(body);
    const m = meta(obj);
    if (m.name !== undefined && m.name !== name)
      throw badRequest(
        `the name of the object (${m.name}) does not match the name on the URL (${name})`,
      );
    if (t.namespaced && m.namespace && m.namespace !== ns)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    this.checkTypeMeta(t, obj, o.version);
    const rv = m.resourceVersion;
    if (rv === undefined || rv === "") {
      if (!t.allowUnconditionalUpdate)
        throw invalid(`${qualifiedResource(t)}`, t, t.resource, name, [
          {
            reason: "FieldValueInvalid",
            field: "metadata.resourceVersion",
            message: "Invalid value: 0: must be specified for an update",
          },
        ]);
    } else if (rv !== meta(old).resourceVersion) throw conflict(t, name);
    const next = this.merge(t, old, obj, subresource);
    return this.commitUpdate(t, old, next, o);
  }

  /** Applies a patch (PATCH); server-side apply creates a missing object. */
  patch(
    t: ResourceType,
    ns: string,
    name: string,
    type: PatchType,
    body: unknown,
    o: WriteOptions & { force?: boolean },
    subresource?: "status",
  ): { object: Obj; created: boolean } {
    if (type === "strategic" && !t.builtin) throw unsupportedMediaType(false);
    const old = this.store.get(t, ns, name);
    if (type === "apply") {
      if (!isObj(body)) throw badRequest("error decoding patch: apply patch must be an object");
      const bm = isObj(body.metadata) ? body.metadata : {};
      if (bm.managedFields !== undefined) throw badRequest("metadata.managedFields must be nil");
      if (bm.name !== undefined && bm.name !== name)
        throw badRequest(
          `the name of the object (${JSON.stringify(bm.name)}) does not match the name on the URL (${name})`,
        );
      if (!old) {
        // Upsert: create from the applied config, owned (Apply) by this manager, as ONE write
        // (watchers see a single ADDED).
        const applied = clone(body);
        meta(applied).name = name;
        const res = serverSideApply({
          live: undefined,
          applied: this.forSsa(applied) as Json,
          manager: o.manager,
          force: true,
          apiVersion: apiVersionOf(t.group, o.version),
          now: k8sTime(this.now()),
          listType: this.listTypes(t),
        });
        const created = this.create(t, ns, applied, o, res.managedFields);
        return { object: created, created: true };
      }
      const rv = isObj(body.metadata) ? body.metadata.resourceVersion : undefined;
      if (typeof rv === "string" && rv !== "" && rv !== meta(old).resourceVersion)
        throw conflict(t, name);
      const res = this.wrapPatch(() =>
        serverSideApply({
          live: this.forSsa(old) as Json,
          applied: this.forSsa(body) as Json,
          manager: o.manager,
          force: o.force ?? false,
          apiVersion: apiVersionOf(t.group, o.version),
          now: k8sTime(this.now()),
          listType: this.listTypes(t),
          subresource,
        }),
      );
      const next = res.object as Obj;
      meta(next).managedFields = res.managedFields;
      meta(next).resourceVersion = meta(old).resourceVersion;
      const merged = this.merge(t, old, next, subresource);
      meta(merged).managedFields = res.managedFields;
      return { object: this.commitUpdate(t, old, merged, o, true), created: false };
    }
    if (!old) throw notFound(t, name);
    if (o.force !== undefined)
      throw new StatusError(
        422,
        "Invalid",
        `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch`,
        {
          group: "meta.k8s.io",
          kind: "PatchOptions",
          causes: [
            {
              reason: "FieldValueForbidden",
              message: "Forbidden: may not be specified for non-apply patch",
              field: "force",
            },
          ],
        },
      );
    const current = this.present(t, clone(old), o.version) as Json;
    let patched: Json;
    if (type === "json") patched = this.wrapPatch(() => applyJsonPatch(current, body));
    else if (type === "merge")
      patched = this.wrapPatch(() => applyMergePatch(current, body as Json));
    else {
      const schema = builtinSmpSchema(apiVersionOf(t.group, o.version), t.kind);
      if (!schema) throw unsupportedMediaType(false);
      if (!isObj(body))
        throw badRequest("error decoding patch: strategic merge patch must be an object");
      patched = this.wrapPatch(() => applyStrategicMergePatch(current, body as Json, schema));
    }
    if (!isObj(patched)) throw badRequest("the patched object is not a JSON object");
    const pm = meta(patched);
    if (
      pm.resourceVersion !== undefined &&
      pm.resourceVersion !== "" &&
      pm.resourceVersion !== meta(old).resourceVersion
    )
      throw conflict(t, name);
    if (pm.name !== undefined && pm.name !== name)
      throw badRequest(
        `the name of the object (${String(pm.name)}) does not match the name on the URL (${name})`,
      );
    const next = this.merge(t, old, patched, subresource);
    return { object: this.commitUpdate(t, old, next, o), created: false };
  }

  /** Deletes an object with DeleteOptions; returns what the API answers and whether it is gone. */
  delete(
    t: ResourceType,
    ns: string,
    name: string,
    opts: DeleteOptions,
    version = t.storageVersion,
  ): { object: Obj; gone: boolean } {
    const old = this.store.get(t, ns, name);
    if (!old) throw notFound(t, name);
    const m = meta(old);
    if (opts.preconditions?.uid && opts.preconditions.uid !== m.uid)
      throw conflict(
        t,
        name,
        `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${m.uid}`,
      );
    if (
      opts.preconditions?.resourceVersion &&
      opts.preconditions.resourceVersion !== m.resourceVersion
    )
      throw conflict(
        t,
        name,
        `Precondition failed: ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`,
      );
    if (t.kind === "Namespace" && IMMORTAL_NAMESPACES.has(name))
      throw new StatusError(
        403,
        "Forbidden",
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
        { name, kind: "namespaces" },
      );
    if (opts.dryRun) return { object: this.present(t, old, version), gone: false };
    const policy =
      opts.propagationPolicy ??
      (t.group === "" && t.resource === "pods" ? "Background" : "Background");
    if (policy === "Orphan") this.orphanDependents(m.uid ?? "");
    const finalizers = (m.finalizers ?? []).filter(
      (f) => f !== "foregroundDeletion" && f !== "orphan",
    );
    if (finalizers.length > 0) {
      if (!m.deletionTimestamp) {
        m.deletionTimestamp = k8sTime(this.now());
        m.deletionGracePeriodSeconds = 0;
        this.store.update(t, old);
      }
      return { object: this.present(t, old, version), gone: false };
    }
    if (t.kind === "Namespace") this.deleteNamespaceContent(name);
    if (t.kind === "CustomResourceDefinition") this.deleteCustomResources(old);
    if (policy === "Foreground") this.deleteDependents(m.uid ?? "");
    const last = this.store.delete(t, ns, name) ?? old;
    if (policy === "Background") setImmediate(() => this.deleteDependents(m.uid ?? ""));
    return { object: this.present(t, last, version), gone: true };
  }

  /** Writes the status of an object directly (controllers). Keeps generation. */
  writeStatus(t: ResourceType, o: Obj): Obj {
    const old = this.store.get(t, meta(o).namespace ?? "", meta(o).name ?? "");
    if (!old) throw notFound(t, meta(o).name ?? "");
    const next = clone(old);
    next.status = clone(o.status);
    // Controllers write annotations through /status (deployment revision), like the real one.
    if (meta(o).annotations) meta(next).annotations = { ...meta(o).annotations };
    return this.store.update(t, next);
  }

  /** Writes an object as a controller would (no validation; metadata rules still apply). */
  controllerUpdate(t: ResourceType, o: Obj): Obj {
    const old = this.store.get(t, meta(o).namespace ?? "", meta(o).name ?? "");
    if (!old) throw notFound(t, meta(o).name ?? "");
    const next = this.merge(t, old, clone(o), undefined);
    this.bumpGeneration(t, old, next);
    if (isTerminatedByFinalizers(next)) {
      this.store.delete(t, meta(next).namespace ?? "", meta(next).name ?? "");
      return next;
    }
    return this.store.update(t, next);
  }

  /** Allocates a ClusterIP from 10.96.0.0/12. */
  allocateClusterIp(): string {
    const n = this.nextIp++;
    return `10.96.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  }

  private checkTypeMeta(t: ResourceType, obj: Obj, version: string): void {
    const want = apiVersionOf(t.group, version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== want)
      throw badRequest(
        `the API version in the data (${JSON.stringify(obj.apiVersion)}) does not match the expected API version (${want})`,
      );
    if (obj.kind !== undefined && obj.kind !== t.kind)
      throw badRequest(
        `the kind in the data (${JSON.stringify(obj.kind)}) does not match the expected kind (${t.kind})`,
      );
    obj.apiVersion = want;
    obj.kind = t.kind;
  }

  /**
   * The object to store for an update: immutable metadata from `old`, status from `old` unless
   * writing /status, and for /status writes everything but status from `old`.
   */
  private merge(t: ResourceType, old: Obj, incoming: Obj, subresource: "status" | undefined): Obj {
    let next: Obj;
    if (subresource === "status") {
      next = clone(old);
      next.status = clone(incoming.status);
      if (
        t.kind === "Deployment" &&
        isObj(incoming.metadata) &&
        incoming.metadata.annotations !== undefined
      )
        meta(next).annotations = clone(incoming.metadata.annotations) as Record<string, string>;
    } else {
      next = clone(incoming);
      if (t.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
    }
    const m = meta(next);
    const om = meta(old);
    m.name = om.name;
    if (t.namespaced) m.namespace = om.namespace;
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    m.generation = om.generation;
    if (om.generation === undefined) delete m.generation;
    m.resourceVersion = om.resourceVersion;
    if (om.deletionTimestamp) {
      m.deletionTimestamp = om.deletionTimestamp;
      m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    if (m.managedFields === undefined && om.managedFields !== undefined)
      m.managedFields = om.managedFields;
    next.apiVersion = apiVersionOf(t.group, t.storageVersion);
    next.kind = t.kind;
    return next;
  }

  private commitUpdate(
    t: ResourceType,
    old: Obj,
    next: Obj,
    o: WriteOptions,
    managedAlready = false,
  ): Obj {
    const om = meta(old);
    const nm = meta(next);
    if (om.deletionTimestamp) {
      const added = (nm.finalizers ?? []).filter((f) => !(om.finalizers ?? []).includes(f));
      if (added.length)
        throw invalid(this.kindWithGroup(t), t, t.kind, nm.name ?? "", [
          {
            reason: "FieldValueForbidden",
            field: "metadata.finalizers",
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
          },
        ]);
    }
    // After defaulting (and CRD pruning), as the API server compares in PrepareForUpdate: a
    // write that only omits defaulted fields (a server-side apply) changes no generation.
    const stored = this.finishWrite(t, next, old, o, managedAlready);
    this.bumpGeneration(t, old, stored);
    if (o.dryRun) return this.present(t, stored, o.version);
    if (isTerminatedByFinalizers(stored)) {
      const last = this.store.delete(t, nm.namespace ?? "", nm.name ?? "") ?? stored;
      setImmediate(() => this.deleteDependents(nm.uid ?? ""));
      return this.present(t, last, o.version);
    }
    return this.present(t, this.store.update(t, stored), o.version);
  }

  private bumpGeneration(t: ResourceType, old: Obj, next: Obj): void {
    const gen = meta(old).generation;
    if (gen === undefined) return;
    let changed = false;
    switch (t.generation) {
      case "none":
        return;
      case "spec":
        changed = !deepEqual(old.spec, next.spec);
        break;
      case "spec-and-annotations":
        changed =
          !deepEqual(old.spec, next.spec) ||
          !deepEqual(meta(old).annotations ?? {}, meta(next).annotations ?? {});
        break;
      case "all-but-metadata": {
        const strip = (x: Obj): Obj => {
          const c = { ...x };
          delete c.metadata;
          delete c.status;
          delete c.apiVersion;
          delete c.kind;
          return c;
        };
        changed = !deepEqual(strip(old), strip(next));
        break;
      }
    }
    meta(next).generation = changed ? gen + 1 : gen;
  }

  /** Defaulting, validation (built-in rules or the CRD schema) and managedFields. */
  private finishWrite(
    t: ResourceType,
    obj: Obj,
    old: Obj | undefined,
    o: WriteOptions,
    managedAlready = false,
  ): Obj {
    const annotations = meta(obj).annotations ?? {};
    let annotationBytes = 0;
    for (const [k, v] of Object.entries(annotations))
      annotationBytes += Buffer.byteLength(k) + Buffer.byteLength(String(v));
    if (annotationBytes > 262_144)
      throw invalid(this.kindWithGroup(t), t, t.kind, meta(obj).name ?? "", [
        {
          reason: "FieldValueTooLong",
          field: "metadata.annotations",
          message: "Too long: must have at most 262144 bytes",
        },
      ]);
    if (t.builtin) {
      applyDefaults(t.kind, obj, () => this.allocateClusterIp());
      const causes = validateBuiltin(t.kind, obj, old);
      if (causes.length)
        throw invalid(this.kindWithGroup(t), t, t.kind, meta(obj).name ?? "", causes);
    } else {
      obj = this.validateCustom(t, obj, o);
    }
    if (!managedAlready) {
      const mf = recordUpdate({
        before: old ? (this.forSsa(old) as Json) : undefined,
        after: this.forSsa(obj) as Json,
        manager: o.manager,
        apiVersion: apiVersionOf(t.group, o.version),
        now: k8sTime(this.now()),
        listType: this.listTypes(t),
      });
      meta(obj).managedFields = mf;
    }
    return obj;
  }

  private validateCustom(t: ResourceType, obj: Obj, o: WriteOptions): Obj {
    const schema = t.schemas?.[o.version] ?? t.schemas?.[t.storageVersion];
    if (!schema) return obj;
    const name = meta(obj).name ?? "";
    const res = validateCustomResource(schema, obj);
    // Unknown fields are a decoding error (400), found before validation runs (422).
    if (res.unknownFields.length) {
      if (o.fieldValidation === "Strict")
        throw badRequest(strictDecodingMessage(res.unknownFields));
      if (o.fieldValidation === "Warn")
        for (const f of res.unknownFields) o.warnings?.push(`unknown field "${f}"`);
    }
    if (res.errors.length)
      throw invalid(
        this.kindWithGroup(t),
        t,
        t.kind,
        name,
        res.errors.map((e: FieldError) => ({ reason: e.type, message: e.message, field: e.field })),
      );
    return res.object as Obj;
  }

  private forSsa(o: unknown): unknown {
    if (!isObj(o)) return o;
    const c = clone(o);
    const m = meta(c);
    delete m.resourceVersion;
    delete m.uid;
    delete m.creationTimestamp;
    delete m.generation;
    return c;
  }

  private listTypes(t: ResourceType) {
    return listTypesFromSmp(
      t.builtin ? builtinSmpSchema(apiVersionOf(t.group, t.storageVersion), t.kind) : undefined,
    );
  }

  private wrapPatch<R>(fn: () => R): R {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PatchError) {
        if (err.code === 409)
          throw new StatusError(409, "Conflict", err.message, {
            causes: (err.causes ?? []).map((c) => ({
              reason: c.type,
              message: c.message,
              field: c.field,
            })),
          });
        if (err.code === 422) throw new StatusError(422, "Invalid", err.message);
        if (err.code === 413) throw new StatusError(413, "RequestEntityTooLarge", err.message);
        throw badRequest(err.message);
      }
      throw err;
    }
  }

  private kindWithGroup(t: ResourceType): string {
    return t.group ? `${t.kind}.${t.group}` : t.kind;
  }

  private dependents(uid: string): [ResourceType, Obj][] {
    const out: [ResourceType, Obj][] = [];
    const owns = (o: Obj): boolean => (meta(o).ownerReferences ?? []).some((r) => r.uid === uid);
    for (const t of this.registry.all())
      for (const o of this.store.list(t, undefined, owns)) out.push([t, o]);
    return out;
  }

  private deleteDependents(uid: string): void {
    if (!uid) return;
    for (const [t, o] of this.dependents(uid)) {
      const refs = meta(o).ownerReferences ?? [];
      const remaining = refs.filter((r) => r.uid !== uid);
      if (remaining.length > 0) {
        meta(o).ownerReferences = remaining;
        this.store.update(t, o);
        continue;
      }
      try {
        this.delete(t, meta(o).namespace ?? "", meta(o).name ?? "", {
          propagationPolicy: "Foreground",
        });
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
  }

  private orphanDependents(uid: string): void {
    for (const [t, o] of this.dependents(uid)) {
      const refs = meta(o).ownerReferences ?? [];
      meta(o).ownerReferences = refs.filter((r) => r.uid !== uid);
      this.store.update(t, o);
    }
  }

  private deleteNamespaceContent(ns: string): void {
    for (const t of this.registry.all()) {
      if (!t.namespaced) continue;
      for (const o of this.store.list(t, ns)) this.store.delete(t, ns, meta(o).name ?? "");
    }
  }

  private deleteCustomResources(crd: Obj): void {
    const spec = crd.spec as { group?: string; names?: { plural?: string } } | undefined;
    const t = this.registry.get(spec?.group ?? "", spec?.names?.plural ?? "");
    if (!t) return;
    for (const o of this.store.list(t))
      this.store.delete(t, meta(o).namespace ?? "", meta(o).name ?? "");
    this.registry.remove(t.group, t.resource);
  }
}

function isTerminatedByFinalizers(o: Obj): boolean {
  const m = meta(o);
  return !!m.deletionTimestamp && (m.finalizers ?? []).length === 0;
}

/** Causes of a built-in validation, for tests and controllers. */
export type { Cause };

/** A pod's QoS class (qos.GetPodQOS): BestEffort, Guaranteed or Burstable. */
function podQos(pod: Obj): string {
  const spec = isObj(pod.spec) ? pod.spec : {};
  const containers = [...objects(spec.containers), ...objects(spec.initContainers)];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = isObj(c.resources) ? c.resources : {};
    const limits = isObj(res.limits) ? res.limits : {};
    const requests = isObj(res.requests) ? res.requests : {};
    for (const r of ["cpu", "memory"]) {
      if (limits[r] !== undefined || requests[r] !== undefined) any = true;
      if (limits[r] === undefined) guaranteed = false;
      else if (
        requests[r] !== undefined &&
        JSON.stringify(requests[r]) !== JSON.stringify(limits[r])
      )
        guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}
