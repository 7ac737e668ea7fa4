import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { isApplicationConfigFile } from "@pipecd-ts/config";
import { InvalidArgumentError } from "@pipecd-ts/runtime";

/** A Kubernetes manifest as loaded from Git. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A manifest with its resource key `apiVersion:kind:namespace:name`. */
export interface Manifest {
  key: string;
  /** Deep-copied on every load: stages mutate freely. */
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
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "IngressClass",
  "PriorityClass",
]);

/** The resource key of a manifest (namespace "default" when unset for namespaced kinds). */
export function manifestKey(o: K8sObject): string {
  const ns = CLUSTER_SCOPED.has(o.kind) ? "" : o.metadata.namespace || "default";
  return `${o.apiVersion}:${o.kind}:${ns}:${o.metadata.name}`;
}

/**
 * Loads the manifests of an app directory (PipeCD `loader.go`, plain YAML): `input.manifests`
 * when given, else every `*.yaml|*.yml|*.json` file directly in the directory (not recursive)
 * except app config files; multi-document YAML; `input.namespace` overrides namespaces; sorted by
 * the `pipecd.dev/order` annotation (stable: ties keep file order, unlike PipeCD).
 */
export async function loadManifests(
  appDir: string,
  input: { manifests: readonly string[]; namespace: string },
): Promise<Manifest[]> {
  let files: string[];
  if (input.manifests.length) files = [...input.manifests];
  else {
    const entries = await readdir(appDir, { withFileTypes: true });
    files = entries
      .filter(
        (e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name) && !isApplicationConfigFile(e.name),
      )
      .map((e) => e.name)
      .sort();
  }
  const out: Manifest[] = [];
  for (const f of files) {
    const text = await readFile(join(appDir, f), "utf8").catch((err: Error) => {
      throw new InvalidArgumentError(`cannot read manifest ${f}: ${err.message}`);
    });
    const docs = parseAllDocuments(text);
    for (const [i, doc] of docs.entries()) {
      if (doc.errors.length)
        throw new InvalidArgumentError(
          `${f}: invalid YAML in document ${i + 1}: ${doc.errors[0]?.message ?? ""}`,
        );
      const o = doc.toJS() as unknown;
      if (o === null || o === undefined) continue;
      if (typeof o !== "object" || Array.isArray(o))
        throw new InvalidArgumentError(`${f}: document ${i + 1} is not a Kubernetes object`);
      const obj = o as K8sObject;
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
        throw new InvalidArgumentError(
          `${f}: document ${i + 1} needs apiVersion, kind and metadata.name`,
        );
      if (input.namespace && !CLUSTER_SCOPED.has(obj.kind))
        obj.metadata.namespace = input.namespace;
      out.push({ key: manifestKey(obj), obj });
    }
  }
  const order = (m: Manifest): number => {
    const v = Number(m.obj.metadata.annotations?.[Annotation.ORDER] ?? "0");
    return Number.isFinite(v) ? v : 0;
  };
  return out
    .map((m, i) => ({ m, i }))
    .sort((a, b) => order(a.m) - order(b.m) || a.i - b.i)
    .map((x) => x.m);
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

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Names of ConfigMaps and Secrets a pod spec references (volumes, env valueFrom, envFrom). */
export function referencedConfigs(podSpec: unknown): {
  configMaps: Set<string>;
  secrets: Set<string>;
} {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  const spec = obj(podSpec) ?? {};
  for (const v of arr(spec.volumes)) {
    const vo = obj(v) ?? {};
    const cm = obj(vo.configMap)?.name;
    if (typeof cm === "string") configMaps.add(cm);
    const sec = obj(vo.secret)?.secretName;
    if (typeof sec === "string") secrets.add(sec);
    for (const src of arr(obj(vo.projected)?.sources)) {
      const s = obj(src) ?? {};
      const pcm = obj(s.configMap)?.name;
      if (typeof pcm === "string") configMaps.add(pcm);
      const ps = obj(s.secret)?.name;
      if (typeof ps === "string") secrets.add(ps);
    }
  }
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const co = obj(c) ?? {};
    for (const e of arr(co.env)) {
      const vf = obj(obj(e)?.valueFrom) ?? {};
      const cm = obj(vf.configMapKeyRef)?.name;
      if (typeof cm === "string") configMaps.add(cm);
      const sec = obj(vf.secretKeyRef)?.name;
      if (typeof sec === "string") secrets.add(sec);
    }
    for (const ef of arr(co.envFrom)) {
      const cm = obj(obj(ef)?.configMapRef)?.name;
      if (typeof cm === "string") configMaps.add(cm);
      const sec = obj(obj(ef)?.secretRef)?.name;
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
    const template = obj(obj(m.obj.spec)?.template);
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
    const meta = obj(template.metadata) ?? (template.metadata = {});
    const ann = (obj(meta.annotations) ?? (meta.annotations = {})) as Record<string, string>;
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
    const spec = obj(obj(obj(m.obj.spec)?.template)?.spec);
    for (const c of arr(spec?.containers)) {
      const co = obj(c) ?? {};
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
