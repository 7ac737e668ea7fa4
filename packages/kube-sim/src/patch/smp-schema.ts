// Which lists of the built-in kinds merge under strategic merge patch, i.e. the Go struct tags
// `patchStrategy:"merge" patchMergeKey:"…"` of k8s.io/api, for the kinds kube-sim serves.

/** How a list merges under SMP: by a key field, as a set of primitives (union), or replaced whole. */
export type ListStrategy = { kind: "merge"; key: string } | { kind: "set" } | { kind: "replace" };

/** Tells, for a field path (object keys; list elements appear as "[]"), how a list merges. */
export interface SmpSchema {
  listStrategy(path: readonly string[]): ListStrategy;
  retainKeys?(path: readonly string[]): boolean;
}

const REPLACE: ListStrategy = { kind: "replace" };
const byKey = (key: string): ListStrategy => ({ kind: "merge", key });

/** PodSpec lists with a merge strategy (k8s.io/api core/v1 PodSpec). */
const POD_SPEC_LISTS: Readonly<Record<string, ListStrategy>> = {
  containers: byKey("name"),
  initContainers: byKey("name"),
  ephemeralContainers: byKey("name"),
  imagePullSecrets: byKey("name"),
  volumes: byKey("name"),
  hostAliases: byKey("ip"),
  topologySpreadConstraints: byKey("topologyKey"),
  schedulingGates: byKey("name"),
  resourceClaims: byKey("name"),
};

/** Container lists with a merge strategy. `args`, `command`, `envFrom`… stay atomic. */
const CONTAINER_LISTS: Readonly<Record<string, ListStrategy>> = {
  ports: byKey("containerPort"),
  env: byKey("name"),
  volumeMounts: byKey("mountPath"),
  volumeDevices: byKey("devicePath"),
};

const CONTAINER_FIELDS = new Set(["containers", "initContainers", "ephemeralContainers"]);

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
}

function lookup(table: Readonly<Record<string, ListStrategy>>, key: string): ListStrategy {
  return Object.prototype.hasOwnProperty.call(table, key) ? (table[key] ?? REPLACE) : REPLACE;
}

function podSpecStrategy(rel: readonly string[]): ListStrategy {
  const [field, item, sub] = rel;
  if (field === undefined) return REPLACE;
  if (rel.length === 1) return lookup(POD_SPEC_LISTS, field);
  if (rel.length === 3 && CONTAINER_FIELDS.has(field) && item === "[]" && sub !== undefined) {
    return lookup(CONTAINER_LISTS, sub);
  }
  return REPLACE;
}

/** ObjectMeta lists, wherever an ObjectMeta sits (the object's and a pod template's). */
function objectMetaStrategy(path: readonly string[]): ListStrategy | undefined {
  const n = path.length;
  if (n < 2 || path[n - 2] !== "metadata") return undefined;
  if (path[n - 1] === "ownerReferences") return byKey("uid");
  if (path[n - 1] === "finalizers") return { kind: "set" };
  return undefined;
}

interface KindRules {
  /** Where the PodSpec lives, if the kind embeds one. */
  podSpec?: readonly string[];
  /** Extra exact-path rules. */
  lists?: ReadonlyArray<readonly [readonly string[], ListStrategy]>;
  /** Whether `status.conditions` merges by `type` (true for the workload and core kinds). */
  conditions?: boolean;
  retainKeys?: ReadonlyArray<readonly string[]>;
}

const TEMPLATE_SPEC = ["spec", "template", "spec"] as const;
const WORKLOAD: KindRules = { podSpec: TEMPLATE_SPEC, conditions: true };
const PLAIN: KindRules = {};

const KINDS: ReadonlyMap<string, KindRules> = new Map<string, KindRules>([
  [
    "v1/Pod",
    {
      podSpec: ["spec"],
      conditions: true,
      lists: [[["status", "podIPs"], byKey("ip")]],
    },
  ],
  ["apps/v1/Deployment", { ...WORKLOAD, retainKeys: [["spec", "strategy"]] }],
  ["apps/v1/ReplicaSet", WORKLOAD],
  ["apps/v1/StatefulSet", WORKLOAD],
  ["apps/v1/DaemonSet", WORKLOAD],
  ["v1/Service", { conditions: true, lists: [[["spec", "ports"], byKey("port")]] }],
  ["v1/ConfigMap", PLAIN],
  ["v1/Secret", PLAIN],
  ["v1/Namespace", { conditions: true }],
  ["v1/ServiceAccount", { lists: [[["secrets"], byKey("name")]] }],
  ["v1/Event", PLAIN],
  ["rbac.authorization.k8s.io/v1/Role", PLAIN],
  ["rbac.authorization.k8s.io/v1/ClusterRole", PLAIN],
  ["rbac.authorization.k8s.io/v1/RoleBinding", PLAIN],
  ["rbac.authorization.k8s.io/v1/ClusterRoleBinding", PLAIN],
  ["apiextensions.k8s.io/v1/CustomResourceDefinition", PLAIN],
]);

function schemaFor(rules: KindRules): SmpSchema {
  return {
    listStrategy(path) {
      const meta = objectMetaStrategy(path);
      if (meta) return meta;
      if (
        rules.conditions &&
        path.length === 2 &&
        path[0] === "status" &&
        path[1] === "conditions"
      ) {
        return byKey("type");
      }
      for (const [p, s] of rules.lists ?? []) {
        if (p.length === path.length && startsWith(path, p)) return s;
      }
      if (rules.podSpec && startsWith(path, rules.podSpec)) {
        return podSpecStrategy(path.slice(rules.podSpec.length));
      }
      return REPLACE;
    },
    retainKeys(path) {
      if ((rules.retainKeys ?? []).some((p) => p.length === path.length && startsWith(path, p))) {
        return true;
      }
      // PodSpec.volumes is `merge,retainKeys`: each volume keeps only the source it names.
      const ps = rules.podSpec;
      return (
        ps !== undefined &&
        path.length === ps.length + 2 &&
        startsWith(path, ps) &&
        path[ps.length] === "volumes" &&
        path[ps.length + 1] === "[]"
      );
    },
  };
}

const SCHEMAS: ReadonlyMap<string, SmpSchema> = new Map(
  [...KINDS].map(([k, rules]) => [k, schemaFor(rules)] as const),
);

/**
 * The SMP schema of a built-in kind kube-sim serves, or `undefined` for anything else (custom
 * resources), for which the server answers strategic merge patches with 415.
 */
export function builtinSmpSchema(apiVersion: string, kind: string): SmpSchema | undefined {
  return SCHEMAS.get(`${apiVersion}/${kind}`);
}
