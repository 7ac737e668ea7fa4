import { parse as parseYaml, parseDocument } from "yaml";
import {
  calculateReplicas,
  type K8sResourcePatch,
  type K8sResourceReference,
  type KubernetesVariantLabel,
  type ReplicasSpec,
} from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { manifestKey, type K8sObject, type Manifest } from "./manifest.js";
import { VARIANT_RESOURCE_KEYS } from "./rollback.js";

/** Shared-metadata key listing the resources K8S_CANARY_ROLLOUT created (reference §3.6). */
export const CANARY_RESOURCES_KEY = VARIANT_RESOURCE_KEYS[0];
/** Shared-metadata key listing the resources K8S_BASELINE_ROLLOUT created (reference §3.6). */
export const BASELINE_RESOURCES_KEY = VARIANT_RESOURCE_KEYS[1];

/** Kinds deleted last by the clean stages (PipeCD closes incoming connections first). */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  "Deployment",
  "ReplicaSet",
  "DaemonSet",
  "StatefulSet",
  "Pod",
]);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const obj = (v: unknown): Json | undefined => (isObj(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** `obj[key]` as an object, created when missing or not an object. */
const child = (o: Json, key: string): Json => {
  const v = o[key];
  if (isObj(v)) return v;
  const created: Json = {};
  o[key] = created;
  return created;
};

/** PipeCD `makeSuffixedName`: `name-suffix`, or `name` when the suffix is empty. */
export function suffixedName(name: string, suffix: string): string {
  return suffix ? `${name}-${suffix}` : name;
}

/** A deep copy of a manifest (stages mutate freely). */
export function cloneManifest(m: Manifest): Manifest {
  return { key: m.key, obj: structuredClone(m.obj) };
}

/** A deep copy renamed to `<name>-<suffix>`, with its key recomputed. */
function renamedCopy(m: Manifest, suffix: string): Manifest {
  const o = structuredClone(m.obj);
  o.metadata.name = suffixedName(o.metadata.name, suffix);
  return { key: manifestKey(o), obj: o };
}

/**
 * The workload manifests of an app (PipeCD `findWorkloadManifests`): those matching a
 * `spec.workloads` reference (kind default Deployment, empty name = every object of the kind), or
 * every Deployment when there are no references. Kinds are not checked here.
 */
export function findWorkloads(
  manifests: readonly Manifest[],
  refs: readonly K8sResourceReference[] = [],
): Manifest[] {
  if (refs.length === 0) return manifests.filter((m) => m.obj.kind === "Deployment");
  const out: Manifest[] = [];
  for (const ref of refs) {
    const kind = ref.kind || "Deployment";
    for (const m of manifests)
      if (
        m.obj.kind === kind &&
        (!ref.name || m.obj.metadata.name === ref.name) &&
        !out.includes(m)
      )
        out.push(m);
  }
  return out;
}

/** Services matching `spec.service` (empty name = every Service). */
export function findServices(manifests: readonly Manifest[], ref: { name: string }): Manifest[] {
  return manifests.filter(
    (m) => m.obj.kind === "Service" && (!ref.name || m.obj.metadata.name === ref.name),
  );
}

/** One generated canary/baseline workload, for the stage log. */
export interface VariantWorkload {
  /** The generated manifest (also in {@link VariantSet.manifests}). */
  manifest: Manifest;
  /** Name of the workload it was copied from. */
  sourceName: string;
  replicas: number;
  /** `spec.replicas` of the source workload in Git (undefined when omitted). */
  sourceReplicas: number | undefined;
}

/** What {@link generateVariantManifests} builds. */
export interface VariantSet {
  /** In PipeCD's order: Services, then ConfigMaps and Secrets, then workloads. */
  manifests: Manifest[];
  workloads: VariantWorkload[];
}

/** Options of {@link generateVariantManifests}. */
export interface VariantOptions {
  variant: "canary" | "baseline";
  /** Name suffix; empty keeps the names (PipeCD allows it). */
  suffix: string;
  replicas: ReplicasSpec | undefined;
  variantLabel: KubernetesVariantLabel;
  /** `spec.workloads`; empty means every Deployment. */
  workloads?: readonly K8sResourceReference[];
  /** Copy every ConfigMap and Secret and point the variant pods at the copies (canary). */
  copyConfigs: boolean;
  createService: boolean;
  /** `spec.service` (empty name = every Service), used with `createService`. */
  serviceRef?: { name: string };
}

/** The label value of a variant. */
export function variantValue(
  label: KubernetesVariantLabel,
  variant: "primary" | "canary" | "baseline",
): string {
  return variant === "primary"
    ? label.primaryValue
    : variant === "canary"
      ? label.canaryValue
      : label.baselineValue;
}

/**
 * Builds the canary or baseline resources (reference §4.4–4.5): for each workload (only
 * Deployment is supported, else "unsupported workload kind") a copy named `<name>-<suffix>` with
 * the computed replicas and the variant label set (overriding any value) in
 * `spec.selector.matchLabels` and the pod template labels; with `copyConfigs`, copies of every
 * ConfigMap and Secret, the variant pods' references to them (volumes incl. projected, env
 * `valueFrom`, `envFrom`, init containers) rewritten to the copies; with `createService`, Service
 * copies (see {@link variantService}). Throws InvalidArgumentError on unusable input.
 */
export function generateVariantManifests(
  manifests: readonly Manifest[],
  o: VariantOptions,
): VariantSet {
  const value = variantValue(o.variantLabel, o.variant);
  const workloads = findWorkloads(manifests, o.workloads);
  if (workloads.length === 0)
    throw new InvalidArgumentError(
      `unable to find any workload manifests for the ${o.variant.toUpperCase()} variant`,
    );
  for (const w of workloads)
    if (w.obj.kind !== "Deployment")
      throw new InvalidArgumentError(
        `unsupported workload kind ${w.obj.kind} (${w.obj.metadata.name}): only Deployment is supported`,
      );

  const out: Manifest[] = [];
  if (o.createService) {
    const services = findServices(manifests, o.serviceRef ?? { name: "" });
    if (services.length === 0)
      throw new InvalidArgumentError(
        `unable to find any service for name="${o.serviceRef?.name ?? ""}"`,
      );
    for (const s of services)
      out.push(variantService(s, { suffix: o.suffix, key: o.variantLabel.key, value }));
  }

  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  if (o.copyConfigs) {
    for (const m of manifests) {
      if (m.obj.kind !== "ConfigMap" && m.obj.kind !== "Secret") continue;
      (m.obj.kind === "ConfigMap" ? configMaps : secrets).add(
        `${m.obj.metadata.namespace ?? ""}/${m.obj.metadata.name}`,
      );
      out.push(renamedCopy(m, o.suffix));
    }
  }

  const generated: VariantWorkload[] = [];
  for (const w of workloads) {
    const copy = renamedCopy(w, o.suffix);
    const spec = child(copy.obj, "spec");
    const sourceReplicas = typeof spec.replicas === "number" ? spec.replicas : undefined;
    const replicas = calculateReplicas(o.replicas, sourceReplicas, 1);
    spec.replicas = replicas;
    child(child(spec, "selector"), "matchLabels")[o.variantLabel.key] = value;
    const template = child(spec, "template");
    child(child(template, "metadata"), "labels")[o.variantLabel.key] = value;
    if (o.copyConfigs) {
      const ns = copy.obj.metadata.namespace ?? "";
      rewriteConfigReferences(template.spec, {
        configMap: (n) => (configMaps.has(`${ns}/${n}`) ? suffixedName(n, o.suffix) : n),
        secret: (n) => (secrets.has(`${ns}/${n}`) ? suffixedName(n, o.suffix) : n),
      });
    }
    out.push(copy);
    generated.push({ manifest: copy, sourceName: w.obj.metadata.name, replicas, sourceReplicas });
  }
  return { manifests: out, workloads: generated };
}

/**
 * Rewrites, in place, the ConfigMap and Secret names a pod spec references: volumes (`configMap`,
 * `secret`, `projected` sources), and in containers and init containers env `valueFrom` and
 * `envFrom`.
 */
export function rewriteConfigReferences(
  podSpec: unknown,
  rename: { configMap: (name: string) => string; secret: (name: string) => string },
): void {
  const spec = obj(podSpec);
  if (!spec) return;
  const fix = (holder: unknown, field: string, fn: (n: string) => string): void => {
    const h = obj(holder);
    if (h && typeof h[field] === "string") h[field] = fn(h[field]);
  };
  for (const v of arr(spec.volumes)) {
    const vo = obj(v) ?? {};
    fix(vo.configMap, "name", rename.configMap);
    fix(vo.secret, "secretName", rename.secret);
    for (const src of arr(obj(vo.projected)?.sources)) {
      fix(obj(src)?.configMap, "name", rename.configMap);
      fix(obj(src)?.secret, "name", rename.secret);
    }
  }
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const co = obj(c) ?? {};
    for (const e of arr(co.env)) {
      const vf = obj(obj(e)?.valueFrom);
      fix(vf?.configMapKeyRef, "name", rename.configMap);
      fix(vf?.secretKeyRef, "name", rename.secret);
    }
    for (const ef of arr(co.envFrom)) {
      fix(obj(ef)?.configMapRef, "name", rename.configMap);
      fix(obj(ef)?.secretRef, "name", rename.secret);
    }
  }
}

/**
 * A variant copy of a Service (PipeCD `generateVariantServiceManifests`): named
 * `<name>-<suffix>`, `type: ClusterIP`, the variant label added to the selector, and the fields
 * a ClusterIP copy cannot keep cleared — `clusterIP`/`clusterIPs` (unless headless),
 * `externalIPs`, `loadBalancerIP`, `loadBalancerSourceRanges`, `loadBalancerClass`,
 * `externalTrafficPolicy`, `healthCheckNodePort`, `allocateLoadBalancerNodePorts` and every
 * `ports[].nodePort` (PipeCD clears only the first three, so a NodePort Service fails to copy).
 */
export function variantService(
  service: Manifest,
  o: { suffix: string; key: string; value: string },
): Manifest {
  const copy = renamedCopy(service, o.suffix);
  const spec = child(copy.obj, "spec");
  spec.type = "ClusterIP";
  child(spec, "selector")[o.key] = o.value;
  if (spec.clusterIP !== "None") {
    delete spec.clusterIP;
    delete spec.clusterIPs;
  }
  for (const f of [
    "externalIPs",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "loadBalancerClass",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "allocateLoadBalancerNodePorts",
  ])
    delete spec[f];
  for (const p of arr(spec.ports)) if (isObj(p)) delete p.nodePort;
  return copy;
}

/**
 * The `createService` Services of K8S_PRIMARY_ROLLOUT: copies of the `spec.service` Service(s)
 * named `<name>-<suffix>` selecting only primary pods. Throws when no Service matches.
 */
export function generatePrimaryService(
  manifests: readonly Manifest[],
  o: { suffix: string; variantLabel: KubernetesVariantLabel; serviceRef: { name: string } },
): Manifest[] {
  const services = findServices(manifests, o.serviceRef);
  if (services.length === 0)
    throw new InvalidArgumentError(`unable to find any service for name="${o.serviceRef.name}"`);
  return services.map((s) =>
    variantService(s, {
      suffix: o.suffix,
      key: o.variantLabel.key,
      value: o.variantLabel.primaryValue,
    }),
  );
}

/**
 * `addVariantLabelToSelector`: sets variant=primary in `spec.selector.matchLabels` and the pod
 * template labels of each workload (`spec.workloads`, default every Deployment), in place.
 */
export function ensurePrimaryLabel(
  manifests: readonly Manifest[],
  variantLabel: KubernetesVariantLabel,
  workloads: readonly K8sResourceReference[] = [],
): void {
  for (const w of findWorkloads(manifests, workloads)) {
    const spec = child(w.obj, "spec");
    child(child(spec, "selector"), "matchLabels")[variantLabel.key] = variantLabel.primaryValue;
    child(child(child(spec, "template"), "metadata"), "labels")[variantLabel.key] =
      variantLabel.primaryValue;
  }
}

/**
 * PipeCD `checkVariantSelectorInWorkload`: why a workload does not carry `key=value` in both
 * `spec.selector.matchLabels` and `spec.template.metadata.labels`, or undefined when it does.
 */
export function checkVariantSelector(
  workload: K8sObject,
  key: string,
  value: string,
): string | undefined {
  const spec = obj(workload.spec);
  const places: [string, unknown][] = [
    ["spec.selector.matchLabels", obj(obj(spec?.selector)?.matchLabels)],
    ["spec.template.metadata.labels", obj(obj(obj(spec?.template)?.metadata)?.labels)],
  ];
  for (const [where, labels] of places) {
    const got = obj(labels)?.[key];
    if (got === undefined) return `missing ${key} key in ${where}`;
    if (got !== value)
      return `require ${value} but got ${JSON.stringify(got)} for ${key} key in ${where}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Patches (K8S_CANARY_ROLLOUT `patches`).

type PathSegment = string | number;

/**
 * Parses a JSONPath-like path as PipeCD's yaml-replace takes it: `$`, then `.key`, `.'key'`,
 * `['key']`, `["key"]` and `[index]` segments, e.g. `$.spec.template.spec.containers[0].image`
 * or `$.data['app.yaml']`.
 */
export function parsePatchPath(path: string): PathSegment[] {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid path ${JSON.stringify(path)}: ${why}`);
  if (!path.startsWith("$")) throw bad('it must start with "$"');
  const out: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
      const q = path[i];
      if (q === "'" || q === '"') {
        const end = path.indexOf(q, i + 1);
        if (end < 0) throw bad("unterminated quote");
        out.push(path.slice(i + 1, end));
        i = end + 1;
      } else {
        let end = i;
        while (end < path.length && path[end] !== "." && path[end] !== "[") end++;
        if (end === i) throw bad(`empty key at offset ${i}`);
        out.push(path.slice(i, end));
        i = end;
      }
    } else if (c === "[") {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        const end = path.indexOf(`${q}]`, i + 2);
        if (end < 0) throw bad("unterminated quoted key");
        out.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf("]", i);
        const n = end < 0 ? "" : path.slice(i + 1, end);
        if (!/^\d+$/.test(n)) throw bad(`expected an index at offset ${i}`);
        out.push(Number(n));
        i = end + 1;
      }
    } else throw bad(`unexpected ${JSON.stringify(c)} at offset ${i}`);
  }
  return out;
}

/**
 * The replacement value: `raw` parsed as YAML, except that a string stays a string (`"1.20"`
 * replacing a string must not become the number 1.2 in a ConfigMap).
 */
function replacementValue(existing: unknown, raw: string): unknown {
  const v: unknown = parseYaml(raw);
  return typeof existing === "string" && (v === null || typeof v !== "object") ? raw : v;
}

/**
 * Replaces the existing value at `path` in a plain JS value by `next(existing)`; throws when the
 * path is missing.
 */
function replaceIn(
  root: unknown,
  segs: PathSegment[],
  path: string,
  next: (existing: unknown) => unknown,
): void {
  if (segs.length === 0)
    throw new InvalidArgumentError(`cannot replace the whole document (${path})`);
  let cur: unknown = root;
  for (const [i, seg] of segs.entries()) {
    const last = i === segs.length - 1;
    let exists: boolean;
    if (typeof seg === "number") exists = Array.isArray(cur) && seg < cur.length;
    else exists = isObj(cur) && Object.prototype.hasOwnProperty.call(cur, seg);
    if (!exists)
      throw new InvalidArgumentError(`failed to replace value at path: ${path} (not found)`);
    const holder = cur as Record<PathSegment, unknown>;
    if (last) holder[seg] = next(holder[seg]);
    else cur = holder[seg];
  }
}

/** Reads the value at `path`; undefined when missing. */
function getIn(root: unknown, segs: PathSegment[]): unknown {
  let cur: unknown = root;
  for (const seg of segs) {
    if (typeof seg === "number") cur = Array.isArray(cur) ? cur[seg] : undefined;
    else cur = isObj(cur) ? cur[seg] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Applies yaml-replace ops to an embedded YAML/JSON document; returns its new text. */
function patchDocument(text: string, ops: K8sResourcePatch["ops"]): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined;
    }
    if (json !== undefined) {
      for (const op of ops)
        replaceIn(json, parsePatchPath(op.path), op.path, (e) => replacementValue(e, op.value));
      return trimmed.includes("\n") ? `${JSON.stringify(json, null, 2)}\n` : JSON.stringify(json);
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length)
    throw new InvalidArgumentError(
      `the document is not valid YAML: ${doc.errors[0]?.message ?? ""}`,
    );
  for (const op of ops) {
    const segs = parsePatchPath(op.path);
    if (segs.length === 0 || !doc.hasIn(segs))
      throw new InvalidArgumentError(`failed to replace value at path: ${op.path} (not found)`);
    const v = replacementValue(doc.getIn(segs), op.value);
    doc.setIn(segs, isObj(v) || Array.isArray(v) ? doc.createNode(v) : v);
  }
  return doc.toString();
}

/**
 * Applies K8S_CANARY_ROLLOUT `patches` (PipeCD `patchManifests`): each patch edits the first
 * manifest with its `target.kind` and `target.name` (none → error), or with `target.documentRoot`
 * the YAML/JSON document held as a string in that field (e.g. `$.data['config.yaml']`). Each
 * `yaml-replace` op replaces the existing value at `path` with `value` parsed as YAML; a missing
 * path is an error. Returns new manifests (the input is not modified).
 */
export function applyPatches(
  manifests: readonly Manifest[],
  patches: readonly K8sResourcePatch[],
): Manifest[] {
  const out = manifests.map(cloneManifest);
  for (const p of patches) {
    const target = out.find(
      (m) => m.obj.kind === p.target.kind && m.obj.metadata.name === p.target.name,
    );
    if (!target)
      throw new InvalidArgumentError(
        `no manifest matches the given patch: kind=${p.target.kind}, name=${p.target.name}`,
      );
    const where = `${p.target.kind} ${p.target.name}`;
    for (const op of p.ops)
      if (op.op !== "yaml-replace")
        throw new InvalidArgumentError(`${where}: ${String(op.op)} operation is not supported`);
    try {
      if (!p.target.documentRoot) {
        for (const op of p.ops)
          replaceIn(target.obj, parsePatchPath(op.path), op.path, (e) =>
            replacementValue(e, op.value),
          );
      } else {
        const rootSegs = parsePatchPath(p.target.documentRoot);
        const text = getIn(target.obj, rootSegs);
        if (typeof text !== "string")
          throw new InvalidArgumentError(
            `the value for the specified root ${p.target.documentRoot} must be a string`,
          );
        const patched = patchDocument(text, p.ops);
        replaceIn(target.obj, rootSegs, p.target.documentRoot, () => patched);
      }
    } catch (err) {
      throw new InvalidArgumentError(`patch of ${where}: ${(err as Error).message}`);
    }
    target.key = manifestKey(target.obj);
  }
  return out;
}
