import {
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  type Configuration,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
  type V1APIResource,
} from "@kubernetes/client-node";
import type { ApiResourceList, Discovery } from "./discovery.js";
import { httpStatusOfError } from "./errors.js";
import type { KubeObject } from "./types.js";

/** What names an object (or, without a name, a collection) in a URL. */
export interface ObjectHeader {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** One page of a list, as the server sends it (plain JSON). */
export interface ListPage {
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubeObject[];
}

/** Server-side apply parameters (sent as `?fieldManager=…&force=…&dryRun=All`). */
export interface ApplyParams {
  fieldManager: string;
  force: boolean;
  dryRun: boolean;
}

/**
 * client-node's generic `KubernetesObjectApi`, bound to one call: every request carries that
 * call's AbortSignal, kinds resolve through the shared {@link Discovery} cache, and bodies travel
 * as plain JSON. client-node's own (de)serializer maps built-in kinds through its model classes,
 * which silently drops fields the models do not know (e.g. `spec.bogus`, or fields newer than
 * 1.4.0), and turns timestamps into `Date`s; a CD tool must send manifests as written.
 */
export class ObjectApi extends KubernetesObjectApi {
  constructor(
    configuration: Configuration,
    private readonly discovery: Discovery,
    private readonly signal: AbortSignal,
  ) {
    super(configuration);
  }

  /** `PATCH` with `application/apply-patch+yaml` and a JSON body: server-side apply (upsert). */
  async applyObject(spec: KubeObject, p: ApplyParams): Promise<KubeObject> {
    const path = await this.specUriPath(copyHeader(spec), "patch");
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    ctx.setHeaderParam("Accept", "application/json, */*;q=0.8");
    ctx.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    ctx.setQueryParam("fieldManager", p.fieldManager);
    ctx.setQueryParam("force", String(p.force));
    if (p.dryRun) ctx.setQueryParam("dryRun", "All");
    ctx.setBody(JSON.stringify(spec));
    return (await this.requestPromise(ctx)) as unknown as KubeObject;
  }

  /** `GET` one object. */
  async readObject(h: ObjectHeader): Promise<KubeObject> {
    return (await this.read(h)) as unknown as KubeObject;
  }

  /** One page of a `GET` collection with selectors, `limit` and `continue`. */
  async listPage(
    h: Omit<ObjectHeader, "metadata"> & { namespace?: string },
    q: { labelSelector?: string; fieldSelector?: string; limit: number; continue?: string },
  ): Promise<ListPage> {
    const page = await this.list(
      h.apiVersion,
      h.kind,
      h.namespace,
      undefined,
      undefined,
      undefined,
      q.fieldSelector,
      q.labelSelector,
      q.limit,
      q.continue,
    );
    return page as unknown as ListPage;
  }

  /** `DELETE` one object with DeleteOptions in the body (like kubectl). */
  async deleteObject(
    h: ObjectHeader,
    body: { propagationPolicy?: string; preconditions?: { uid?: string } },
  ): Promise<void> {
    await this.delete(h, undefined, undefined, undefined, undefined, undefined, body);
  }

  /** `GET /api/v1` or `/apis/<group>/<version>`; undefined when the group-version is not served. */
  async fetchResourceList(apiVersion: string): Promise<ApiResourceList | undefined> {
    const ctx = this.configuration.baseServer.makeRequestContext(
      this.apiVersionPath(apiVersion),
      HttpMethod.GET,
    );
    ctx.setHeaderParam("Accept", "application/json, */*;q=0.8");
    try {
      return await this.requestPromise<ApiResourceList & KubernetesObject>(ctx);
    } catch (err) {
      if (httpStatusOfError(err) === 404) return undefined;
      throw err;
    }
  }

  /** The URL path of an object (or of its collection, for "list"). */
  async pathOf(h: ObjectHeader, action: "read" | "list"): Promise<string> {
    return this.specUriPath(copyHeader(h), action);
  }

  protected override async resource(apiVersion: string, kind: string): Promise<V1APIResource> {
    const r = await this.discovery.lookup(apiVersion, kind, (gv) => this.fetchResourceList(gv));
    return { kind, name: r.plural, namespaced: r.namespaced, singularName: "", verbs: [] };
  }

  protected override async requestPromise<T extends KubernetesObject>(
    requestContext: RequestContext,
    type?: string,
    options?: Configuration,
  ): Promise<T> {
    requestContext.setSignal(this.signal);
    return super.requestPromise<T>(requestContext, type, options);
  }

  protected override async processResponse<T extends KubernetesObject>(
    response: ResponseContext,
  ): Promise<T> {
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) {
      const text = await response.body.text();
      return (text ? JSON.parse(text) : {}) as T;
    }
    throw new ApiException(
      response.httpStatusCode,
      "Unsuccessful HTTP Request",
      await response.getBodyAsAny(),
      response.headers,
    );
  }
}

/** A copy of what `specUriPath` reads and mutates (it fills in the default namespace). */
function copyHeader(spec: ObjectHeader): ObjectHeader {
  return { apiVersion: spec.apiVersion, kind: spec.kind, metadata: { ...spec.metadata } };
}
