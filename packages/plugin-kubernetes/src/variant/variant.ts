import {
  calculateReplicas,
  type K8sResourceReference,
  type KubernetesVariantLabel,
  type ReplicasSpec,
} from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { variantValue } from "../apply.js";
import { asArr, asObj, child, isObj } from "../json.js";
import { manifestKey, type K8sObject, type Manifest } from "../manifest/manifest.js";

/** Shared-metadata key listing the resources K8S_CANARY_ROLLOUT created (reference §3.6). */
export const CANARY_RESOURCES_KEY = "canary-resources";
/** Shared-metadata key listing the resources K8S_BASELINE_ROLLOUT created (reference §3.6). */
export const BASELINE_RESOURCES_KEY = "baseline-resources";
/** Both: what ROLLBACK deletes. */
export const VARIANT_RESOURCE_KEYS = [CANARY_RESOURCES_KEY, BASELINE_RESOURCES_KEY] as const;

/** Kinds deleted last by the clean stages (PipeCD closes incoming connections first). */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  "Deployment",
  "ReplicaSet",
  "DaemonSet",
  "StatefulSet",
  "Pod",
]);

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
  const spec = asObj(podSpec);
  if (!spec) return;
  const fix = (holder: unknown, field: string, fn: (n: string) => string): void => {
    const h = asObj(holder);
    if (h && typeof h[field] === "string") h[field] = fn(h[field]);
  };
  for (const v of asArr(spec.volumes)) {
    const vo = asObj(v) ?? {};
    fix(vo.configMap, "name", rename.configMap);
    fix(vo.secret, "secretName", rename.secret);
    for (const src of asArr(asObj(vo.projected)?.sources)) {
      fix(asObj(src)?.configMap, "name", rename.configMap);
      fix(asObj(src)?.secret, "name", rename.secret);
    }
  }
  for (const c of [...asArr(spec.containers), ...asArr(spec.initContainers)]) {
    const co = asObj(c) ?? {};
    for (const e of asArr(co.env)) {
      const vf = asObj(asObj(e)?.valueFrom);
      fix(vf?.configMapKeyRef, "name", rename.configMap);
      fix(vf?.secretKeyRef, "name", rename.secret);
    }
    for (const ef of asArr(co.envFrom)) {
      fix(asObj(ef)?.configMapRef, "name", rename.configMap);
      fix(asObj(ef)?.secretRef, "name", rename.secret);
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
  for (const p of asArr(spec.ports)) if (isObj(p)) delete p.nodePort;
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
  const spec = asObj(workload.spec);
  const places: [string, unknown][] = [
    ["spec.selector.matchLabels", asObj(asObj(spec?.selector)?.matchLabels)],
    ["spec.template.metadata.labels", asObj(asObj(asObj(spec?.template)?.metadata)?.labels)],
  ];
  for (const [where, labels] of places) {
    const got = asObj(labels)?.[key];
    if (got === undefined) return `missing ${key} key in ${where}`;
    if (got !== value)
      return `require ${value} but got ${JSON.stringify(got)} for ${key} key in ${where}`;
  }
  return undefined;
}
