import { NotFoundError } from "@pipecd-ts/runtime";

/** How a kind is served: its plural resource name and whether it lives in a namespace. */
export interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

/** The parts of an `APIResourceList` (`GET /api/v1`, `/apis/<group>/<version>`) used here. */
export interface ApiResourceList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/** Fetches one group-version's resource list; undefined when the server does not serve it (404). */
export type FetchResourceList = (apiVersion: string) => Promise<ApiResourceList | undefined>;

/**
 * Maps apiVersion + kind to plural + scope with a cache per group-version, like client-node's
 * `KubernetesObjectApi.resource()`. A miss (unknown group-version or kind) refetches that
 * group-version once, so CRDs installed after the first lookup are found.
 */
export class Discovery {
  private readonly cache = new Map<string, Map<string, ResourceInfo>>();

  /** Resolves `kind` in `apiVersion`, fetching with `fetchList` on a miss; NotFound if not served. */
  async lookup(
    apiVersion: string,
    kind: string,
    fetchList: FetchResourceList,
  ): Promise<ResourceInfo> {
    const hit = this.cache.get(apiVersion)?.get(kind);
    if (hit) return hit;
    const fresh = await this.refresh(apiVersion, fetchList);
    const info = fresh.get(kind);
    if (!info)
      throw new NotFoundError(
        `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)} (ensure CRDs are installed first)`,
      );
    return info;
  }

  /** Forgets everything (e.g. after CRDs were removed). */
  invalidate(): void {
    this.cache.clear();
  }

  private async refresh(
    apiVersion: string,
    fetchList: FetchResourceList,
  ): Promise<Map<string, ResourceInfo>> {
    const list = await fetchList(apiVersion);
    const kinds = new Map<string, ResourceInfo>();
    for (const r of list?.resources ?? [])
      // Subresources (deployments/status, .../scale) repeat the kind; skip them.
      if (!r.name.includes("/") && !kinds.has(r.kind))
        kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    if (list) this.cache.set(apiVersion, kinds);
    else this.cache.delete(apiVersion);
    return kinds;
  }
}
