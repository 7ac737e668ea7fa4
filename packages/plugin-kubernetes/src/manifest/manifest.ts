import { createHash } from "node:crypto";
import { resourceKey, type KubeObject } from "@pipecd-ts/kube";
import { asArr, asObj } from "../json.js";

/** A Kubernetes manifest as rendered from Git (plain JSON, as `@pipecd-ts/kube` sends it). */
export type K8sObject = KubeObject;

/** A manifest with its resource key `apiVersion:kind:namespace:name`. */
export interface Manifest {
  key: string;
  /** Deep-copied for every caller: stages mutate freely. */
  obj: K8sObject;
}

/** Annotation names PipeCD uses (reference §4.3). */
export const Annotation = {
  MANAGED_BY: "pipecd.dev/managed-by",
  PIPED: "pipecd.dev/piped",
  APPLICATION: "pipecd.dev/application",
  ORIGINAL_API_VERSION: "pipecd.dev/original-api-version",
  RESOURCE_KEY: "pipecd.dev/resource-key",
  COMMIT_HASH: "pipecd.dev/commit-hash",
  CONFIG_HASH: "pipecd.dev/config-hash",
  ORDER: "pipecd.dev/order",
} as const;

/** Cluster-scoped kinds we may see in an app (their key namespace stays empty). */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "IngressClass",
  "PriorityClass",
]);

/** Whether a kind is namespaced (as far as an app's manifests go). */
export function isNamespaced(kind: string): boolean {
  return !CLUSTER_SCOPED.has(kind);
}

/** The resource key of a manifest (namespace "default" when unset for namespaced kinds). */
export function manifestKey(o: K8sObject): string {
  return resourceKey(o, { namespaced: isNamespaced(o.kind) });
}

/** Adds PipeCD's builtin annotations (reference §4.3) to a manifest, in place. */
export function addBuiltinAnnotations(
  m: Manifest,
  a: {
    pipedId: string;
    applicationId: string;
    variantKey: string;
    variant: string;
    commit: string;
  },
): void {
  const ann = (m.obj.metadata.annotations ??= {});
  ann[Annotation.MANAGED_BY] = "piped";
  ann[Annotation.PIPED] = a.pipedId;
  ann[Annotation.APPLICATION] = a.applicationId;
  ann[a.variantKey] = a.variant;
  ann[Annotation.ORIGINAL_API_VERSION] = m.obj.apiVersion;
  ann[Annotation.RESOURCE_KEY] = m.key;
  ann[Annotation.COMMIT_HASH] = a.commit;
}

/** Names of ConfigMaps and Secrets a pod spec references (volumes, env valueFrom, envFrom). */
export function referencedConfigs(podSpec: unknown): {
  configMaps: Set<string>;
  secrets: Set<string>;
} {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const spec = asObj(podSpec) ?? {};
  for (const v of asArr(spec.volumes)) {
    const vo = asObj(v) ?? {};
    const cm = asObj(vo.configMap)?.name;
    if (typeof cm === "string") configMaps.add(cm);
    const sec = asObj(vo.secret)?.secretName;
    if (typeof sec === "string") secrets.add(sec);
    for (const src of asArr(asObj(vo.projected)?.sources)) {
      const s = asObj(src) ?? {};
      const pcm = asObj(s.configMap)?.name;
      if (typeof pcm === "string") configMaps.add(pcm);
      const ps = asObj(s.secret)?.name;
      if (typeof ps === "string") secrets.add(ps);
    }
  }
  for (const c of [...asArr(spec.containers), ...asArr(spec.initContainers)]) {
    const co = asObj(c) ?? {};
    for (const e of asArr(co.env)) {
      const vf = asObj(asObj(e)?.valueFrom) ?? {};
      const cm = asObj(vf.configMapKeyRef)?.name;
      if (typeof cm === "string") configMaps.add(cm);
      const sec = asObj(vf.secretKeyRef)?.name;
      if (typeof sec === "string") secrets.add(sec);
    }
    for (const ef of asArr(co.envFrom)) {
      const cm = asObj(asObj(ef)?.configMapRef)?.name;
      if (typeof cm === "string") configMaps.add(cm);
      const sec = asObj(asObj(ef)?.secretRef)?.name;
      if (typeof sec === "string") secrets.add(sec);
    }
  }
  return { configMaps, secrets };
}

/**
 * Adds `pipecd.dev/config-hash` to the pod template of every Deployment: a hash of the managed
 * ConfigMaps and Secrets it references, so a config change rolls the pods (reference §4.3).
 */
export function addConfigHash(manifests: Manifest[]): void {
  const configs = new Map<string, string>();
  for (const m of manifests)
    if (m.obj.kind === "ConfigMap" || m.obj.kind === "Secret")
      configs.set(
        `${m.obj.kind}/${m.obj.metadata.namespace ?? ""}/${m.obj.metadata.name}`,
        JSON.stringify({
          data: m.obj.data,
          binaryData: m.obj.binaryData,
          stringData: m.obj.stringData,
        }),
      );
  for (const m of manifests) {
    if (m.obj.kind !== "Deployment") continue;
    const template = asObj(asObj(m.obj.spec)?.template);
    if (!template) continue;
    const refs = referencedConfigs(template.spec);
    const ns = m.obj.metadata.namespace ?? "";
    const parts: string[] = [];
    for (const n of [...refs.configMaps].sort()) {
      const c = configs.get(`ConfigMap/${ns}/${n}`);
      if (c !== undefined) parts.push(`cm:${n}:${c}`);
    }
    for (const n of [...refs.secrets].sort()) {
      const c = configs.get(`Secret/${ns}/${n}`);
      if (c !== undefined) parts.push(`secret:${n}:${c}`);
    }
    if (parts.length === 0) continue;
    const meta = asObj(template.metadata) ?? (template.metadata = {});
    const ann = (asObj(meta.annotations) ?? (meta.annotations = {})) as Record<string, string>;
    ann[Annotation.CONFIG_HASH] = createHash("sha256")
      .update(parts.join("\n"))
      .digest("hex")
      .slice(0, 16);
  }
}

/** Container images of every Deployment: `{name, version}` per container (PipeCD version detection). */
export function deploymentImages(
  manifests: readonly Manifest[],
): { workload: string; container: string; image: string; name: string; tag: string }[] {
  const out: { workload: string; container: string; image: string; name: string; tag: string }[] =
    [];
  for (const m of manifests) {
    if (m.obj.kind !== "Deployment") continue;
    const spec = asObj(asObj(asObj(m.obj.spec)?.template)?.spec);
    for (const c of asArr(spec?.containers)) {
      const co = asObj(c) ?? {};
      const image = typeof co.image === "string" ? co.image : "";
      const at = image.lastIndexOf("@");
      const colon = image.lastIndexOf(":");
      const slash = image.lastIndexOf("/");
      let name = image;
      let tag = "latest";
      if (at >= 0) {
        name = image.slice(0, at);
        tag = image.slice(at + 1);
      } else if (colon > slash) {
        name = image.slice(0, colon);
        tag = image.slice(colon + 1);
      }
      out.push({
        workload: m.obj.metadata.name,
        container: typeof co.name === "string" ? co.name : "",
        image,
        name: name.split("/").pop() ?? name,
        tag,
      });
    }
  }
  return out;
}
