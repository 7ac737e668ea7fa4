import { builtinSchemas, openApiName, openApiV2Protobuf } from "./openapi.js";
import { messageOf } from "./proto/codec.js";
import { createHash } from "node:crypto";
import { apiVersionOf, storageVersionHash, type Registry, type ResourceType } from "./registry.js";

/** `/version` body. minor 33 makes a kubectl dispatcher pick kubectl 1.33. */
export function versionInfo(): Record<string, string> {
  return {
    major: "1",
    minor: "33",
    gitVersion: "v1.33.9-kube-sim",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2026-01-01T00:00:00Z",
    goVersion: "go1.24.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

/** Legacy `/api`. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** Legacy `/apis`. */
export function apiGroupList(reg: Registry): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: reg.groups().map((g) => ({
      name: g.name,
      versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${g.name}/${g.versions[0]}`, version: g.versions[0] },
    })),
  };
}

function typesOf(reg: Registry, group: string, version: string): ResourceType[] {
  return reg
    .all()
    .filter((t) => t.group === group && t.versions.includes(version))
    .sort((a, b) => a.resource.localeCompare(b.resource));
}

/** Legacy `/api/v1` and `/apis/<g>/<v>` (undefined if the group/version is not served). */
export function apiResourceList(
  reg: Registry,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const types = typesOf(reg, group, version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
      storageVersionHash: storageVersionHash(t.group, version, t.kind),
    });
    if (t.scale)
      resources.push({
        name: `${t.resource}/scale`,
        singularName: "",
        namespaced: t.namespaced,
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: ["get", "patch", "update"],
      });
    if (t.statusSubresource)
      resources.push({
        name: `${t.resource}/status`,
        singularName: "",
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ["get", "patch", "update"],
      });
    for (const sub of t.readSubresources ?? [])
      resources.push({
        name: `${t.resource}/${sub.name}`,
        singularName: "",
        namespaced: t.namespaced,
        kind: sub.kind,
        verbs: ["get"],
      });
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf(group, version),
    resources,
  };
}

function discoveryResource(t: ResourceType): Record<string, unknown> {
  const subresources: Record<string, unknown>[] = [];
  if (t.scale)
    subresources.push({
      subresource: "scale",
      responseKind: { group: "autoscaling", version: "v1", kind: "Scale" },
      verbs: ["get", "patch", "update"],
    });
  if (t.statusSubresource)
    subresources.push({
      subresource: "status",
      responseKind: { group: "", version: "", kind: t.kind },
      verbs: ["get", "patch", "update"],
    });
  for (const sub of t.readSubresources ?? [])
    subresources.push({
      subresource: sub.name,
      responseKind: { group: "", version: "", kind: sub.kind },
      verbs: ["get"],
    });
  return {
    resource: t.resource,
    responseKind: { group: "", version: "", kind: t.kind },
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs: t.verbs,
    ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length ? { categories: t.categories } : {}),
    ...(subresources.length ? { subresources } : {}),
  };
}

/** Aggregated discovery (`apidiscovery.k8s.io/<v2|v2beta1>`) of the core group or of /apis. */
export function aggregatedDiscovery(
  reg: Registry,
  which: "core" | "apis",
  apiVersion: "v2" | "v2beta1",
): Record<string, unknown> {
  const groups = which === "core" ? [{ name: "", versions: ["v1"] }] : reg.groups();
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
    metadata: {},
    items: groups.map((g) => ({
      metadata: g.name ? { name: g.name } : {},
      versions: g.versions.map((v) => ({
        version: v,
        freshness: "Current",
        resources: typesOf(reg, g.name, v).map(discoveryResource),
      })),
    })),
  };
}

/** The discovery format an Accept header asks for (aggregated only if that version is accepted). */
export function negotiateDiscovery(accept: string | undefined): "v2" | "v2beta1" | undefined {
  const a = accept ?? "";
  if (/g=apidiscovery\.k8s\.io;v=v2;as=APIGroupDiscoveryList/.test(a.replace(/\s/g, "")))
    return "v2";
  if (/g=apidiscovery\.k8s\.io;v=v2beta1;as=APIGroupDiscoveryList/.test(a.replace(/\s/g, "")))
    return "v2beta1";
  return undefined;
}

/**
 * `/openapi/v2` as gnostic protobuf (what kubectl ≤ 1.27 reads): the operations of every served
 * resource and the built-in kinds' definitions.
 */
export function openApiV2(reg: Registry): Buffer {
  const resources = reg.all().flatMap((t) =>
    t.versions.map((version) => ({
      group: t.group,
      version,
      kind: t.kind,
      namespaced: t.namespaced,
      path: `/${gvPath(t.group, version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.resource}`,
    })),
  );
  return openApiV2Protobuf(
    resources,
    resources.filter((r) => reg.get(r.group, r.path.split("/").pop() ?? "")?.builtin),
  );
}

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** `/openapi/v3` index over every served group/version. */
export function openApiV3Index(reg: Registry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const gvs = new Set<string>(["/v1"]);
  for (const t of reg.all()) for (const v of t.versions) gvs.add(`${t.group}/${v}`);
  for (const gv of gvs) {
    const [g, v] = gv.split("/") as [string, string];
    const doc = openApiV3Doc(reg, g, v);
    const hash = createHash("sha256")
      .update(JSON.stringify(doc))
      .digest("hex")
      .slice(0, 16)
      .toUpperCase();
    paths[gvPath(g, v)] = { serverRelativeURL: `/openapi/v3/${gvPath(g, v)}?hash=${hash}` };
  }
  return { paths };
}

/**
 * `/openapi/v3/<api/v1|apis/g/v>`: PATCH operations carrying `x-kubernetes-group-version-kind`
 * and the `fieldValidation` parameter (so kubectl validates server-side), with the patch
 * content types the resource accepts (no strategic merge patch for custom resources).
 */
export function openApiV3Doc(
  reg: Registry,
  group: string,
  version: string,
): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const t of typesOf(reg, group, version)) {
    const base = `/${gvPath(group, version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.resource}`;
    const gvk = { group, version, kind: t.kind };
    const params = [
      { name: "name", in: "path", required: true, schema: { type: "string" } },
      ...(t.namespaced
        ? [{ name: "namespace", in: "path", required: true, schema: { type: "string" } }]
        : []),
      { name: "dryRun", in: "query", schema: { type: "string" } },
      { name: "fieldManager", in: "query", schema: { type: "string" } },
      { name: "fieldValidation", in: "query", schema: { type: "string" } },
      { name: "force", in: "query", schema: { type: "boolean" } },
    ];
    const content: Record<string, unknown> = {
      "application/json-patch+json": {},
      "application/merge-patch+json": {},
      ...(t.builtin ? { "application/strategic-merge-patch+json": {} } : {}),
      "application/apply-patch+yaml": {},
    };
    // GET answers with the kind's schema (kubectl 1.27's explain finds the kind this way).
    const response = (kind: string) => {
      const message = t.builtin ? messageOf(apiVersionOf(group, version), kind) : undefined;
      return {
        "200": {
          description: "OK",
          ...(message
            ? {
                content: {
                  "application/json": {
                    schema: { $ref: `#/components/schemas/${openApiName(message)}` },
                  },
                },
              }
            : {}),
        },
      };
    };
    paths[`${base}/{name}`] = {
      get: {
        "x-kubernetes-group-version-kind": gvk,
        "x-kubernetes-action": "get",
        parameters: params.filter((p) => p.in === "path"),
        responses: response(t.kind),
      },
      patch: {
        "x-kubernetes-group-version-kind": gvk,
        "x-kubernetes-action": "patch",
        parameters: params,
        requestBody: { content },
      },
      put: {
        "x-kubernetes-group-version-kind": gvk,
        "x-kubernetes-action": "put",
        parameters: params,
      },
    };
    // A namespaced type's list across all namespaces (kubectl 1.27's explain looks here).
    if (t.namespaced)
      paths[`/${gvPath(group, version)}/${t.resource}`] = {
        get: {
          "x-kubernetes-group-version-kind": gvk,
          "x-kubernetes-action": "list",
          parameters: [],
          responses: response(t.listKind),
        },
      };
    paths[base] = {
      get: {
        "x-kubernetes-group-version-kind": gvk,
        "x-kubernetes-action": "list",
        parameters: params.filter((p) => p.name === "namespace"),
        responses: response(t.listKind),
      },
      post: {
        "x-kubernetes-group-version-kind": gvk,
        "x-kubernetes-action": "post",
        parameters: params.filter((p) => p.name !== "name"),
      },
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.33.9-kube-sim" },
    paths,
    // The built-in kinds' schemas (descriptions for kubectl explain, patch strategies and merge
    // keys for client-side apply's strategic patches). Custom resources get none: kubectl then
    // builds their client-side-apply patches as merge patches, as verified against kubectl.
    components: {
      schemas: builtinSchemas(
        group,
        version,
        typesOf(reg, group, version)
          .filter((t) => t.builtin)
          .map((t) => t.kind),
      ),
    },
  };
}
