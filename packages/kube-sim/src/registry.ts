import { createHash } from "node:crypto";
import type { Obj } from "./object.js";

/** The standard verbs of a resource. */
export const ALL_VERBS = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** How generation is bumped on updates. */
export type GenerationRule = "none" | "spec" | "spec-and-annotations" | "all-but-metadata";

/** One served resource type (built-in or from a CRD). */
export interface ResourceType {
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
  /** Version objects are stored in. */
  storageVersion: string;
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Has a /status subresource (main writes keep the old status). */
  statusSubresource: boolean;
  /** Has a /scale subresource: where replicas live. */
  scale?: {
    specReplicasPath: string[];
    statusReplicasPath: string[];
    labelSelectorPath?: string[];
  };
  /** Built-ins accept strategic merge patch; custom resources answer 415. */
  builtin: boolean;
  generation: GenerationRule;
  /** PUT without resourceVersion allowed (false for CRs: 422). */
  allowUnconditionalUpdate: boolean;
  /** DELETE answers with the object instead of a Status. */
  returnDeletedObject: boolean;
  /** Field selector labels beyond metadata.name/namespace, with their value getters. */
  fieldSelectors: Record<string, (o: Obj) => string | undefined>;
  /** Name of the owning CRD, for custom resources. */
  crd?: string;
  /** Structural schema per version (custom resources). */
  schemas?: Record<string, unknown>;
  /** Answered on create and never stored (access reviews). */
  virtual?: boolean;
  /** Read-only subresources beyond status and scale (pods/log), with their response kind. */
  readSubresources?: { name: string; kind: string }[];
  /** additionalPrinterColumns per served version (custom resources' tables). */
  printerColumns?: Record<string, Record<string, unknown>[]>;
}

/** `base64(sha256("<group>/<version>/<Kind>")[0:8])`, as the apiserver computes it. */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash("sha256")
    .update(`${group}/${version}/${kind}`)
    .digest()
    .subarray(0, 8)
    .toString("base64");
}

/** Kube-aware version priority: GA > beta > alpha, higher numbers first. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    const stage = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const [as, am, an] = parse(a);
  const [bs, bm, bn] = parse(b);
  return as - bs || am - bm || an - bn || a.localeCompare(b);
}

const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === "string" ? v : JSON.stringify(v);
const at =
  (...path: string[]) =>
  (o: Obj): string | undefined => {
    let cur: unknown = o;
    for (const p of path)
      cur = typeof cur === "object" && cur !== null ? (cur as Obj)[p] : undefined;
    return str(cur);
  };

function builtin(
  group: string,
  version: string,
  resource: string,
  kind: string,
  opts: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    versions: [version],
    storageVersion: version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    listKind: `${kind}List`,
    namespaced: true,
    shortNames: [],
    categories: [],
    verbs: ALL_VERBS,
    statusSubresource: false,
    builtin: true,
    generation: "none",
    allowUnconditionalUpdate: true,
    returnDeletedObject: false,
    fieldSelectors: {},
    ...opts,
  };
}

/** The built-in resource types kube-sim serves. */
export function builtinTypes(): ResourceType[] {
  return [
    builtin("", "v1", "namespaces", "Namespace", {
      namespaced: false,
      shortNames: ["ns"],
      statusSubresource: true,
      returnDeletedObject: true,
      verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
      fieldSelectors: { "status.phase": at("status", "phase") },
    }),
    builtin("", "v1", "configmaps", "ConfigMap", { shortNames: ["cm"] }),
    builtin("", "v1", "secrets", "Secret", { fieldSelectors: { type: at("type") } }),
    builtin("", "v1", "services", "Service", {
      shortNames: ["svc"],
      categories: ["all"],
      statusSubresource: true,
      returnDeletedObject: true,
    }),
    builtin("", "v1", "pods", "Pod", {
      shortNames: ["po"],
      readSubresources: [{ name: "log", kind: "Pod" }],
      categories: ["all"],
      statusSubresource: true,
      returnDeletedObject: true,
      fieldSelectors: {
        "spec.nodeName": at("spec", "nodeName"),
        "spec.restartPolicy": at("spec", "restartPolicy"),
        "spec.schedulerName": at("spec", "schedulerName"),
        "spec.serviceAccountName": at("spec", "serviceAccountName"),
        "spec.hostNetwork": (o) => at("spec", "hostNetwork")(o) ?? "false",
        "status.phase": at("status", "phase"),
        "status.podIP": at("status", "podIP"),
        "status.nominatedNodeName": at("status", "nominatedNodeName"),
      },
    }),
    builtin("", "v1", "events", "Event", { shortNames: ["ev"] }),
    builtin("", "v1", "serviceaccounts", "ServiceAccount", { shortNames: ["sa"] }),
    builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", {
      shortNames: ["pvc"],
      statusSubresource: true,
    }),
    builtin("networking.k8s.io", "v1", "ingresses", "Ingress", {
      shortNames: ["ing"],
      statusSubresource: true,
      generation: "spec",
    }),
    builtin("apps", "v1", "deployments", "Deployment", {
      shortNames: ["deploy"],
      categories: ["all"],
      statusSubresource: true,
      scale: {
        specReplicasPath: ["spec", "replicas"],
        statusReplicasPath: ["status", "replicas"],
        labelSelectorPath: ["spec", "selector"],
      },
      generation: "spec-and-annotations",
    }),
    builtin("apps", "v1", "replicasets", "ReplicaSet", {
      shortNames: ["rs"],
      categories: ["all"],
      statusSubresource: true,
      scale: {
        specReplicasPath: ["spec", "replicas"],
        statusReplicasPath: ["status", "replicas"],
        labelSelectorPath: ["spec", "selector"],
      },
      generation: "spec",
      fieldSelectors: { "status.replicas": (o) => at("status", "replicas")(o) ?? "0" },
    }),
    ...["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"].map((kind) =>
      builtin("rbac.authorization.k8s.io", "v1", `${kind.toLowerCase()}s`, kind, {
        namespaced: !kind.startsWith("Cluster"),
      }),
    ),
    // Access reviews: created, answered, never stored (kubectl auth can-i).
    ...["SelfSubjectAccessReview", "SelfSubjectRulesReview"].map((kind) =>
      builtin("authorization.k8s.io", "v1", `${kind.toLowerCase()}s`, kind, {
        namespaced: false,
        verbs: ["create"],
        virtual: true,
      }),
    ),
    builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", {
      namespaced: false,
      shortNames: ["crd", "crds"],
      categories: ["api-extensions"],
      statusSubresource: true,
      generation: "spec",
    }),
  ];
}

/** Lookup of resource types by group/version/resource, kind and short name. */
export class Registry {
  private readonly types = new Map<string, ResourceType>();

  constructor(types: ResourceType[] = builtinTypes()) {
    for (const t of types) this.add(t);
  }

  /** Adds or replaces a type (CRD registration). */
  add(t: ResourceType): void {
    this.types.set(`${t.group}/${t.resource}`, t);
  }

  /** Removes a type. */
  remove(group: string, resource: string): void {
    this.types.delete(`${group}/${resource}`);
  }

  /** The type serving `resource` in `group` at `version`, if served. */
  find(group: string, version: string, resource: string): ResourceType | undefined {
    const t = this.types.get(`${group}/${resource}`);
    return t?.versions.includes(version) ? t : undefined;
  }

  /** The type of `group/resource` regardless of version. */
  get(group: string, resource: string): ResourceType | undefined {
    return this.types.get(`${group}/${resource}`);
  }

  /** The type of an apiVersion + kind. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    for (const t of this.types.values())
      if (
        t.group === group &&
        t.kind === kind &&
        version !== undefined &&
        t.versions.includes(version)
      )
        return t;
    return undefined;
  }

  /** All types. */
  all(): ResourceType[] {
    return [...this.types.values()];
  }

  /** Groups with their served versions (preferred first), core group excluded. */
  groups(): { name: string; versions: string[] }[] {
    const byGroup = new Map<string, Set<string>>();
    for (const t of this.types.values()) {
      if (t.group === "") continue;
      const s = byGroup.get(t.group) ?? new Set<string>();
      for (const v of t.versions) s.add(v);
      byGroup.set(t.group, s);
    }
    return [...byGroup]
      .map(([name, vs]) => ({ name, versions: [...vs].sort(compareVersions) }))
      .sort((a, b) => groupOrder(a.name) - groupOrder(b.name) || a.name.localeCompare(b.name));
  }
}

// Built-in groups come first, as on a real server.
function groupOrder(g: string): number {
  const order = ["apps", "rbac.authorization.k8s.io", "apiextensions.k8s.io"];
  const i = order.indexOf(g);
  return i === -1 ? order.length : i;
}

/** The apiVersion string of a group/version. */
export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}

/** The qualified resource used in messages (`deployments.apps`, `configmaps`). */
export function qualifiedResource(t: Pick<ResourceType, "group" | "resource">): string {
  return t.group ? `${t.resource}.${t.group}` : t.resource;
}
