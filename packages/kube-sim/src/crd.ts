import { compareVersions, type Registry, type ResourceType } from "./registry.js";
import { isObj, k8sTime, meta, type Obj } from "./object.js";

interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: unknown };
  subresources?: {
    status?: unknown;
    scale?: { specReplicasPath?: string; statusReplicasPath?: string; labelSelectorPath?: string };
  };
  additionalPrinterColumns?: Record<string, unknown>[];
}

const path = (p: string | undefined): string[] =>
  (p ?? "").replace(/^\./, "").split(".").filter(Boolean);

/** The resource type a CustomResourceDefinition defines (undefined if malformed). */
export function typeFromCrd(crd: Obj): ResourceType | undefined {
  const spec = crd.spec;
  if (!isObj(spec) || !isObj(spec.names) || typeof spec.group !== "string") return undefined;
  const names = spec.names as {
    plural?: string;
    singular?: string;
    kind?: string;
    listKind?: string;
    shortNames?: string[];
    categories?: string[];
  };
  if (!names.plural || !names.kind) return undefined;
  const versions = (Array.isArray(spec.versions) ? spec.versions : []) as CrdVersion[];
  const served = versions.filter((v) => v.served !== false);
  if (served.length === 0) return undefined;
  const storage = versions.find((v) => v.storage)?.name ?? served[0]?.name ?? "v1";
  const first = served[0];
  const scale = first?.subresources?.scale;
  return {
    group: spec.group,
    versions: served.map((v) => v.name).sort(compareVersions),
    storageVersion: storage,
    resource: names.plural,
    singular: names.singular ?? names.kind.toLowerCase(),
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    namespaced: spec.scope !== "Cluster",
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
    statusSubresource: served.some((v) => v.subresources?.status !== undefined),
    ...(scale
      ? {
          scale: {
            specReplicasPath: path(scale.specReplicasPath),
            statusReplicasPath: path(scale.statusReplicasPath),
            ...(scale.labelSelectorPath
              ? { labelSelectorPath: path(scale.labelSelectorPath) }
              : {}),
          },
        }
      : {}),
    builtin: false,
    generation: "all-but-metadata",
    allowUnconditionalUpdate: false,
    returnDeletedObject: false,
    fieldSelectors: {},
    crd: String(meta(crd).name ?? ""),
    schemas: Object.fromEntries(served.map((v) => [v.name, v.schema?.openAPIV3Schema])),
    printerColumns: Object.fromEntries(
      served.map((v) => [v.name, v.additionalPrinterColumns ?? []]),
    ),
  };
}

/** The status the apiextensions controller writes once names are accepted. */
export function establishedStatus(crd: Obj): Obj {
  const spec = crd.spec as { names?: unknown; versions?: CrdVersion[] };
  const now = k8sTime();
  const storage = spec.versions?.find((v) => v.storage)?.name;
  return {
    acceptedNames: spec.names,
    storedVersions: storage ? [storage] : [],
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        lastTransitionTime: now,
        reason: "NoConflicts",
        message: "no conflicts found",
      },
      {
        type: "Established",
        status: "True",
        lastTransitionTime: now,
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      },
    ],
  };
}

/** Registers (or refreshes) the type of a stored CRD. */
export function registerCrd(reg: Registry, crd: Obj): ResourceType | undefined {
  const t = typeFromCrd(crd);
  if (t) reg.add(t);
  return t;
}
