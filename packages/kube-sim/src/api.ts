import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  aggregatedDiscovery,
  apiGroupList,
  apiResourceList,
  apiVersions,
  negotiateDiscovery,
  openApiV2,
  openApiV3Doc,
  openApiV3Index,
  versionInfo,
} from "./discovery.js";
import type { Faults } from "./faults.js";
import { clone, getPath, isObj, meta, setPath, type Obj } from "./object.js";
import type { DeleteOptions, Objects, PatchType, WriteOptions } from "./objects.js";
import { PatchError, applyJsonPatch, applyMergePatch, type Json } from "./patch/index.js";
import { apiVersionOf, type Registry, type ResourceType } from "./registry.js";
import { PROTOBUF, ProtoError, decodeObject, encodeObject, jsonTypeError } from "./proto/codec.js";
import type { Auth, Identity } from "./rbac.js";
import { servePodLog } from "./logs.js";
import { negotiateTable, toTable, type TableRequest } from "./printers.js";
import { QueryParams } from "./params.js";
import { parseFieldSelector, parseLabelSelector, selectorString } from "./selectors.js";
import { StatusError, badRequest, gone, methodNotAllowed, pathNotFound } from "./status.js";
import type { Store, StoreEvent } from "./store.js";

/** What the HTTP layer needs. */
export interface ApiDeps {
  store: Store;
  registry: Registry;
  objects: Objects;
  faults: Faults;
  /** Authentication (admin and ServiceAccount tokens) and the optional RBAC authorizer. */
  auth: Auth;
  serverAddress: () => string;
  bookmarkIntervalMs: number;
  /** Open watches; each entry ends its stream (called on server close). */
  watches: Set<() => void>;
}

/** A parsed resource request. */
interface ResourceRequest {
  t: ResourceType;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

const MAX_BODY = 3 * 1024 * 1024;

/** The body format a client asked for (Accept), as the API server negotiates it. */
type OutputFormat = "json" | "yaml" | "protobuf";
const outputFormats = new WeakMap<ServerResponse, OutputFormat>();

/**
 * The first media type of `accept` that the server can produce, in the client's order (the
 * API server's NegotiateOutputMediaType): JSON, YAML or protobuf. Entries with parameters such
 * as `as=Table` are negotiated by their own handlers.
 */
function negotiateOutput(accept: string | undefined): OutputFormat {
  for (const entry of (accept ?? "").split(",")) {
    const [type, ...params] = entry.split(";").map((x) => x.trim().toLowerCase());
    if (params.some((p) => p.startsWith("as=") || p.startsWith("g="))) continue;
    if (type === PROTOBUF) return "protobuf";
    if (type === "application/yaml") return "yaml";
    if (type === "application/json" || type === "*/*" || type === "application/*") return "json";
  }
  return "json";
}

/**
 * The protobuf form of a response body, or undefined (then it goes out as JSON, which a
 * protobuf client accepts too): kinds without a message, and objects a client stored through
 * JSON with values the message cannot carry (a string where an integer goes).
 */
function protobufOf(body: Obj): Buffer | undefined {
  try {
    return encodeObject(body);
  } catch {
    return undefined;
  }
}

function send(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const format = outputFormats.get(res) ?? "json";
  // Built-in kinds go out as protobuf when the client prefers it; anything else (custom
  // resources, discovery) as JSON, which such clients accept too.
  const proto = format === "protobuf" && isObj(body) ? protobufOf(body) : undefined;
  if (proto) {
    res.writeHead(code, { "content-type": PROTOBUF, "content-length": proto.length, ...headers });
    res.end(proto);
    return;
  }
  const text = format === "yaml" ? stringifyYaml(body) : JSON.stringify(body);
  res.writeHead(code, {
    "content-type": format === "yaml" ? "application/yaml" : "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendStatus(res: ServerResponse, err: StatusError): void {
  send(res, err.code, err.body(), err.headers);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY)
      throw new StatusError(
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
      );
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * A request body as a JSON value: JSON, YAML, or (for built-in kinds, `protobuf` true)
 * Kubernetes protobuf. Custom resources are JSON-only, as on a cluster: protobuf gets 415.
 */
function parseBody(buf: Buffer, req: IncomingMessage, protobuf = false): unknown {
  const ct = mediaType(req);
  if (ct === PROTOBUF) {
    if (!protobuf)
      throw new StatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
      );
    try {
      return decodeObject(buf);
    } catch (err) {
      if (err instanceof ProtoError) throw badRequest(err.message);
      throw badRequest(`error decoding request body: ${(err as Error).message}`);
    }
  }
  const text = buf.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return ct === "application/yaml" ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

/** The manager name of a write: `fieldManager`, else the User-Agent up to the first '/'. */
function managerOf(req: IncomingMessage, q: QueryParams): string {
  const fm = q.str("fieldManager");
  if (fm) return fm;
  return (req.headers["user-agent"] ?? "unknown").split("/")[0] ?? "unknown";
}

/** Builds the request listener serving the Kubernetes API. */
export function createApiHandler(d: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "https://kube-sim");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    if (path === "/healthz" || path === "/readyz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    outputFormats.set(res, negotiateOutput(req.headers.accept));
    const who = d.auth.authenticate(req.headers.authorization);
    if (path.startsWith("/kube-sim/")) {
      d.auth.requireAdmin(who, path);
      if (path === "/kube-sim/authorization")
        return d.auth.handleAdmin(method, await readBody(req), res);
      await d.faults.handleAdmin(method, path, await readBody(req), res);
      return;
    }
    // Discovery, /version and OpenAPI are open to every authenticated caller (the default
    // system:discovery and system:public-info-viewer bindings).
    if (method === "GET" && path === "/version") return send(res, 200, versionInfo());
    if (method === "GET" && (path === "/api" || path === "/apis")) {
      const which = path === "/api" ? "core" : "apis";
      const agg = negotiateDiscovery(req.headers.accept);
      if (agg)
        return send(res, 200, aggregatedDiscovery(d.registry, which, agg), {
          "content-type": `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList`,
        });
      return send(
        res,
        200,
        which === "core" ? apiVersions(d.serverAddress()) : apiGroupList(d.registry),
      );
    }
    if (method === "GET" && path === "/openapi/v2") {
      const doc = openApiV2(d.registry);
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": doc.length,
      });
      res.end(doc);
      return;
    }
    if (method === "GET" && path === "/openapi/v3")
      return send(res, 200, openApiV3Index(d.registry));
    if (method === "GET" && path.startsWith("/openapi/v3/")) {
      const rest = path.slice("/openapi/v3/".length).split("/");
      const [g, v] = rest[0] === "api" ? ["", rest[1] ?? ""] : [rest[1] ?? "", rest[2] ?? ""];
      if (!apiResourceList(d.registry, g, v)) throw pathNotFound();
      return send(res, 200, openApiV3Doc(d.registry, g, v));
    }
    const segs = path.split("/").filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api" && segs.length >= 2) {
      group = "";
      version = segs[1] ?? "";
      rest = segs.slice(2);
    } else if (segs[0] === "apis" && segs.length >= 3) {
      group = segs[1] ?? "";
      version = segs[2] ?? "";
      rest = segs.slice(3);
    } else throw pathNotFound();
    if (rest.length === 0) {
      if (method !== "GET") throw methodNotAllowed(method);
      const list = apiResourceList(d.registry, group, version);
      if (!list) throw pathNotFound();
      return send(res, 200, list);
    }
    const rr = parseResourcePath(d.registry, group, version, rest);
    const q = new QueryParams(url.searchParams);
    const verb = verbOf(method, rr, q);
    const attrs = {
      verb,
      group: rr.t.group,
      resource: rr.t.resource,
      ...(rr.subresource !== undefined ? { subresource: rr.subresource } : {}),
      namespace: rr.t.namespaced ? (rr.namespace ?? "") : "",
      name: rr.name ?? nameFromFieldSelector(verb, q),
    };
    d.auth.authorize(who, attrs, rr.t);
    await d.faults.apply(verb, rr.t.resource, rr.name, rr.namespace);
    await serve(d, req, res, rr, verb, q, who);
  };
  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof StatusError) return sendStatus(res, err);
      const msg = err instanceof Error ? err.message : String(err);
      sendStatus(
        res,
        new StatusError(500, "InternalError", `Internal error occurred: ${msg}`, {
          causes: [{ message: msg }],
        }),
      );
    });
  };
}

function parseResourcePath(
  reg: Registry,
  group: string,
  version: string,
  rest: string[],
): ResourceRequest {
  const find = (resource: string): ResourceType => {
    const t = reg.find(group, version, resource);
    if (!t) throw pathNotFound();
    return t;
  };
  // namespaces/{ns}/{resource}[/{name}[/{sub}]] for namespaced types; else {resource}[/{name}[/{sub}]].
  if (
    rest[0] === "namespaces" &&
    rest.length >= 3 &&
    reg.find(group, version, rest[2] ?? "")?.namespaced
  ) {
    const t = find(rest[2] ?? "");
    return { t, version, namespace: rest[1], name: rest[3], subresource: rest[4] };
  }
  const t = find(rest[0] ?? "");
  if (t.namespaced && rest.length > 1) throw pathNotFound();
  return { t, version, namespace: undefined, name: rest[1], subresource: rest[2] };
}

/**
 * A list/watch narrowed to one object by `fieldSelector=metadata.name=x` is authorized with that
 * name, so `resourceNames` rules apply to it (apiserver RequestInfoFactory).
 */
function nameFromFieldSelector(verb: string, q: QueryParams): string {
  if (verb !== "list" && verb !== "watch") return "";
  const m = /^metadata\.name==?([^,]+)$/.exec(q.str("fieldSelector") ?? "");
  return m?.[1] ?? "";
}

function verbOf(method: string, rr: ResourceRequest, q: QueryParams): string {
  if (rr.name === undefined) {
    if (method === "GET") return q.bool("watch") ? "watch" : "list";
    if (method === "POST") return "create";
    if (method === "DELETE") return "deletecollection";
  } else {
    if (method === "POST" && rr.subresource !== undefined) return "create";
    if (method === "GET") return "get";
    if (method === "PUT") return "update";
    if (method === "PATCH") return "patch";
    if (method === "DELETE") return "delete";
  }
  throw methodNotAllowed(method);
}

async function serve(
  d: ApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  rr: ResourceRequest,
  verb: string,
  q: QueryParams,
  who: Identity,
): Promise<void> {
  const { t, version } = rr;
  const ns = t.namespaced ? (rr.namespace ?? "") : "";
  const sub = rr.subresource;
  if (t.group === "" && t.resource === "serviceaccounts" && sub === "token") {
    if (verb !== "create") throw methodNotAllowed(req.method ?? "GET");
    const body = parseBody(await readBody(req), req, true);
    return send(res, 201, d.auth.requestToken(ns, rr.name ?? "", body));
  }
  if (t.virtual) {
    if (verb !== "create" || sub !== undefined) throw methodNotAllowed(req.method ?? "GET");
    return send(
      res,
      201,
      d.auth.review(who, t.kind, parseBody(await readBody(req), req, t.builtin)),
    );
  }
  if (t.group === "" && t.resource === "pods" && sub === "log") {
    if (verb !== "get") throw methodNotAllowed(req.method ?? "GET");
    const pod = d.objects.get(t, ns, rr.name ?? "", version);
    return servePodLog(d.store, d.watches, pod, q, req, res);
  }
  if (
    sub !== undefined &&
    !((sub === "status" && t.statusSubresource) || (sub === "scale" && t.scale))
  )
    throw pathNotFound();
  const warnings: string[] = [];
  const fv = q.str("fieldValidation");
  const wo = (): WriteOptions => ({
    manager: managerOf(req, q),
    dryRun: q.strs("dryRun").includes("All"),
    fieldValidation: fv === "Strict" || fv === "Warn" || fv === "Ignore" ? fv : undefined,
    version,
    warnings,
  });
  const headers = (): Record<string, string> =>
    warnings.length
      ? { warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(", ") }
      : {};
  switch (verb) {
    case "get": {
      const o = d.objects.get(t, ns, rr.name ?? "", version);
      if (sub === "scale") return send(res, 200, toScale(t, o));
      const table = tableRequest(req, q);
      if (!table) return send(res, 200, o);
      return sendTable(
        res,
        toTable(t, version, [o], { resourceVersion: meta(o).resourceVersion ?? "" }, table),
      );
    }
    case "list": {
      const l = list(d, t, version, rr.namespace, q);
      const table = tableRequest(req, q);
      if (!table) return send(res, 200, l);
      return sendTable(res, toTable(t, version, l.items as Obj[], l.metadata as Obj, table));
    }
    case "watch":
      return watch(d, t, version, rr.namespace, q, req, res, tableRequest(req, q));
    case "create": {
      const body = parseBody(await readBody(req), req, t.builtin);
      if (!isObj(body)) throw badRequest("error decoding request body: expected an object");
      checkJsonTypes(t, version, body);
      const o = d.objects.create(t, ns, body, wo());
      return send(res, 201, o, headers());
    }
    case "update": {
      const body = parseBody(await readBody(req), req, t.builtin);
      if (!isObj(body)) throw badRequest("error decoding request body: expected an object");
      if (sub !== "scale") checkJsonTypes(t, version, body);
      if (sub === "scale") {
        const cur = d.objects.get(t, ns, rr.name ?? "", version);
        const rv = isObj(body.metadata) ? body.metadata.resourceVersion : undefined;
        const next = fromScale(t, cur, body);
        if (typeof rv === "string" && rv) meta(next).resourceVersion = rv;
        const o = d.objects.update(t, ns, rr.name ?? "", next, wo());
        return send(res, 200, toScale(t, o), headers());
      }
      const o = d.objects.update(
        t,
        ns,
        rr.name ?? "",
        body,
        wo(),
        sub === "status" ? "status" : undefined,
      );
      return send(res, 200, o, headers());
    }
    case "patch": {
      const type = patchTypeOf(mediaType(req), t);
      const raw = (await readBody(req)).toString("utf8");
      let body: unknown;
      try {
        body = type === "apply" ? parseYaml(raw) : JSON.parse(raw);
      } catch (err) {
        throw badRequest(`error decoding patch: ${(err as Error).message}`);
      }
      const force = q.bool("force");
      if (type === "apply" && !q.str("fieldManager"))
        throw new StatusError(
          422,
          "Invalid",
          `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
          {
            group: "meta.k8s.io",
            kind: "PatchOptions",
            causes: [
              {
                reason: "FieldValueRequired",
                message: "Required value: is required for apply patch",
                field: "fieldManager",
              },
            ],
          },
        );
      // An apply that creates also needs `create` (apiserver patch.go authorizes the create).
      if (type === "apply" && sub === undefined && !d.store.get(t, ns, rr.name ?? ""))
        d.auth.authorize(
          who,
          {
            verb: "create",
            group: t.group,
            resource: t.resource,
            namespace: ns,
            name: rr.name ?? "",
          },
          t,
        );
      if (sub === "scale") {
        const cur = d.objects.get(t, ns, rr.name ?? "", version);
        const scale = toScale(t, cur);
        const patched = patchScale(type, scale, body);
        const next = fromScale(t, cur, patched);
        const o = d.objects.update(t, ns, rr.name ?? "", next, wo());
        return send(res, 200, toScale(t, o), headers());
      }
      const { object, created } = d.objects.patch(
        t,
        ns,
        rr.name ?? "",
        type,
        body,
        { ...wo(), ...(force !== undefined ? { force } : {}) },
        sub === "status" ? "status" : undefined,
      );
      return send(res, created ? 201 : 200, object, headers());
    }
    case "delete": {
      const opts = deleteOptions(parseBody(await readBody(req), req, true), q);
      const { object, gone: isGone } = d.objects.delete(t, ns, rr.name ?? "", opts, version);
      if (t.returnDeletedObject || !isGone) return send(res, 200, object);
      return send(res, 200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: {
          name: rr.name,
          ...(t.group ? { group: t.group } : {}),
          kind: t.resource,
          uid: meta(object).uid,
        },
      });
    }
    case "deletecollection": {
      const opts = deleteOptions(parseBody(await readBody(req), req, true), q);
      const items = selectObjects(d, t, rr.namespace, q).items;
      for (const o of items) {
        try {
          d.objects.delete(t, meta(o).namespace ?? "", meta(o).name ?? "", opts, version);
        } catch (err) {
          if (!(err instanceof StatusError && err.code === 404)) throw err;
        }
      }
      return send(res, 200, {
        kind: t.listKind,
        apiVersion: apiVersionOf(t.group, version),
        metadata: { resourceVersion: String(d.store.currentRv()) },
        items: [],
      });
    }
    default:
      throw methodNotAllowed(verb);
  }
}

function patchTypeOf(ct: string, t: ResourceType): PatchType {
  switch (ct) {
    case "application/json-patch+json":
      return "json";
    case "application/merge-patch+json":
      return "merge";
    case "application/strategic-merge-patch+json":
      return "strategic";
    case "application/apply-patch+yaml":
      return "apply";
    default:
      throw new StatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, ${t.builtin ? "application/strategic-merge-patch+json, " : ""}application/apply-patch+yaml`,
      );
  }
}

function deleteOptions(body: unknown, q: QueryParams): DeleteOptions {
  const b = isObj(body) ? body : {};
  const policy = (q.str("propagationPolicy") ?? b.propagationPolicy) as
    DeleteOptions["propagationPolicy"] | undefined;
  if (policy !== undefined && !["Orphan", "Background", "Foreground"].includes(policy))
    throw badRequest(`propagationPolicy: Unsupported value: "${String(policy)}"`);
  let orphan =
    q.bool("orphanDependents") ??
    (typeof b.orphanDependents === "boolean" ? b.orphanDependents : undefined);
  if (policy) orphan = undefined;
  const pre = isObj(b.preconditions)
    ? (b.preconditions as DeleteOptions["preconditions"])
    : undefined;
  const dry =
    q.strs("dryRun").includes("All") || (Array.isArray(b.dryRun) && b.dryRun.includes("All"));
  return {
    propagationPolicy: policy ?? (orphan === true ? "Orphan" : undefined),
    ...(pre ? { preconditions: pre } : {}),
    dryRun: dry,
  };
}

/** The autoscaling/v1 Scale of an object with a scale subresource. */
function toScale(t: ResourceType, o: Obj): Obj {
  const s = t.scale;
  if (!s) throw pathNotFound();
  const m = meta(o);
  const sel = s.labelSelectorPath ? getPath(o, s.labelSelectorPath) : undefined;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: { replicas: getPath(o, s.specReplicasPath) ?? 0 },
    status: {
      replicas: getPath(o, s.statusReplicasPath) ?? 0,
      selector: typeof sel === "string" ? sel : selectorString(sel),
    },
  };
}

function fromScale(t: ResourceType, cur: Obj, scale: unknown): Obj {
  const s = t.scale;
  if (!s || !isObj(scale)) throw badRequest("expected a Scale object");
  const replicas = isObj(scale.spec) ? scale.spec.replicas : undefined;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)
    throw new StatusError(
      422,
      "Invalid",
      `Scale.autoscaling "${String(meta(cur).name)}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      {
        name: meta(cur).name,
        group: "autoscaling",
        kind: "Scale",
        causes: [
          {
            reason: "FieldValueInvalid",
            message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
            field: "spec.replicas",
          },
        ],
      },
    );
  const next = clone(cur);
  setPath(next, s.specReplicasPath, replicas);
  return next;
}

interface Selected {
  items: Obj[];
  rv: number;
}

function fieldGetter(t: ResourceType, o: Obj): (f: string) => string | undefined {
  return (f) => {
    if (f === "metadata.name") return meta(o).name;
    if (f === "metadata.namespace") return meta(o).namespace ?? "";
    return t.fieldSelectors[f]?.(o);
  };
}

function matcher(t: ResourceType, q: QueryParams): (o: Obj) => boolean {
  const ls = parseLabelSelector(q.str("labelSelector"));
  const fs = parseFieldSelector(
    q.str("fieldSelector"),
    (f) => f === "metadata.name" || f === "metadata.namespace" || f in t.fieldSelectors,
  );
  return (o) => ls(meta(o).labels) && fs(fieldGetter(t, o));
}

function selectObjects(
  d: ApiDeps,
  t: ResourceType,
  ns: string | undefined,
  q: QueryParams,
): Selected {
  const match = matcher(t, q);
  return {
    items: d.store.list(t, t.namespaced ? ns : undefined).filter(match),
    rv: d.store.currentRv(),
  };
}

interface ContinueToken {
  rv: number;
  start: string;
}

function list(
  d: ApiDeps,
  t: ResourceType,
  version: string,
  ns: string | undefined,
  q: QueryParams,
): Obj {
  if (q.bool("sendInitialEvents") !== undefined)
    throw new StatusError(
      422,
      "Invalid",
      'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
    );
  const { items: all, rv } = selectObjects(d, t, ns, q);
  const limit = q.int("limit") ?? 0;
  const cont = q.str("continue");
  let start = "";
  if (cont) {
    let tok: ContinueToken;
    try {
      tok = JSON.parse(Buffer.from(cont, "base64url").toString("utf8")) as ContinueToken;
    } catch {
      throw badRequest("continue key is not valid: illegal base64 data");
    }
    if (tok.rv < d.store.oldestRv())
      throw gone(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
      );
    start = tok.start;
  }
  const keyOf = (o: Obj): string => `${meta(o).namespace ?? ""}/${meta(o).name ?? ""}`;
  let items = start ? all.filter((o) => keyOf(o) > start) : all;
  const listMeta: Obj = { resourceVersion: String(rv) };
  if (limit > 0 && items.length > limit) {
    const last = items[limit - 1];
    listMeta.continue = Buffer.from(
      JSON.stringify({ rv, start: last ? keyOf(last) : "" }),
    ).toString("base64url");
    listMeta.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  return {
    kind: t.listKind,
    apiVersion: apiVersionOf(t.group, version),
    metadata: listMeta,
    // Built-in lists are typed: items carry no apiVersion/kind; custom resources keep them.
    items: items.map((o) => {
      if (t.builtin) {
        delete o.apiVersion;
        delete o.kind;
        return o;
      }
      return { ...o, apiVersion: apiVersionOf(t.group, version), kind: t.kind };
    }),
  };
}

function watch(
  d: ApiDeps,
  t: ResourceType,
  version: string,
  ns: string | undefined,
  q: QueryParams,
  req: IncomingMessage,
  res: ServerResponse,
  table?: TableRequest,
): void {
  const sendInitial = q.bool("sendInitialEvents");
  const rvMatch = q.str("resourceVersionMatch");
  if (rvMatch && sendInitial === undefined)
    throw new StatusError(
      422,
      "Invalid",
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
    );
  if (sendInitial !== undefined && rvMatch !== "NotOlderThan")
    throw new StatusError(
      422,
      "Invalid",
      'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
    );
  const match = matcher(t, q);
  const bookmarks = q.bool("allowWatchBookmarks") === true;
  const rvParam = q.str("resourceVersion");
  let headersSent = false;
  const present = (o: Obj): Obj => {
    if (table) {
      // A Table per event; only the first carries the column definitions.
      const one = toTable(
        t,
        version,
        [o],
        { resourceVersion: meta(o).resourceVersion ?? "" },
        {
          ...table,
          noHeaders: headersSent,
        },
      );
      headersSent = true;
      return one;
    }
    return { ...o, apiVersion: apiVersionOf(t.group, version), kind: t.kind };
  };
  res.writeHead(200, {
    "content-type": "application/json",
    "transfer-encoding": "chunked",
    "cache-control": "no-cache",
  });
  res.flushHeaders();
  const write = (type: string, object: Obj): void => {
    res.write(JSON.stringify({ type, object }) + "\n");
  };
  let lastRv = d.store.currentRv();
  const inScope = (e: StoreEvent): boolean =>
    e.group === t.group &&
    e.resource === t.resource &&
    (!t.namespaced || ns === undefined || e.namespace === ns);
  const deliver = (e: StoreEvent): void => {
    if (!inScope(e)) return;
    lastRv = e.rv;
    const now = match(e.object);
    const before = e.old ? match(e.old) : false;
    if (e.type === "ADDED") {
      if (now) write("ADDED", present(e.object));
    } else if (e.type === "DELETED") {
      if (before) write("DELETED", present(e.object));
    } else if (now && before) write("MODIFIED", present(e.object));
    else if (now) write("ADDED", present(e.object));
    else if (before) write("DELETED", present(e.object));
  };
  const unsubscribe = d.store.subscribe(deliver);
  if (sendInitial || rvParam === undefined || rvParam === "" || rvParam === "0") {
    for (const o of d.store.list(t, t.namespaced ? ns : undefined))
      if (match(o)) write("ADDED", present(o));
    if (sendInitial)
      write("BOOKMARK", {
        kind: t.kind,
        apiVersion: apiVersionOf(t.group, version),
        metadata: {
          resourceVersion: String(d.store.currentRv()),
          annotations: { "k8s.io/initial-events-end": "true" },
        },
      });
  } else {
    const from = Number(rvParam);
    const events = Number.isFinite(from) ? d.store.eventsSince(from) : undefined;
    if (!events) {
      write("ERROR", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `too old resource version: ${rvParam} (${d.store.oldestRv() + 1})`,
        reason: "Expired",
        code: 410,
      });
      unsubscribe();
      res.end();
      return;
    }
    for (const e of events) deliver(e);
  }
  const bookmark = (): void => {
    if (bookmarks)
      write("BOOKMARK", {
        kind: t.kind,
        apiVersion: apiVersionOf(t.group, version),
        metadata: { resourceVersion: String(lastRv) },
      });
    else res.write("\n");
  };
  const timer = setInterval(bookmark, d.bookmarkIntervalMs);
  const timeoutSeconds = q.int("timeoutSeconds") ?? 0;
  const closer = timeoutSeconds > 0 ? setTimeout(() => finish(), timeoutSeconds * 1000) : undefined;
  const finish = (): void => {
    clearInterval(timer);
    clearTimeout(closer);
    unsubscribe();
    if (!res.writableEnded) {
      if (bookmarks) bookmark();
      res.end();
    }
  };
  d.watches.add(finish);
  // Node emits 'close' on the request as soon as its body is consumed: watch the response.
  res.on("close", () => {
    clearInterval(timer);
    clearTimeout(closer);
    unsubscribe();
    d.watches.delete(finish);
  });
  void req;
}

/**
 * Refuses a built-in object whose JSON Go's decoder would not take (a string where an integer
 * goes), with the API server's 400; custom resources are checked by their schema instead.
 */
function checkJsonTypes(t: ResourceType, version: string, body: Obj): void {
  if (!t.builtin) return;
  const err = jsonTypeError({ ...body, apiVersion: apiVersionOf(t.group, version), kind: t.kind });
  if (err) throw badRequest(err);
}

/** The Table a read asks for with `Accept: …;as=Table;…`, if any. */
function tableRequest(req: IncomingMessage, q: QueryParams): TableRequest | undefined {
  const tableVersion = negotiateTable(req.headers.accept);
  return tableVersion ? { tableVersion, includeObject: q.str("includeObject") } : undefined;
}

function sendTable(res: ServerResponse, table: Obj): void {
  const text = JSON.stringify(table);
  res.writeHead(200, {
    "content-type": `application/json;as=Table;v=${String(table.apiVersion).split("/")[1]};g=meta.k8s.io`,
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Applies a patch to an autoscaling/v1 Scale (kubectl scale sends a merge patch). */
function patchScale(type: PatchType, scale: Obj, body: unknown): unknown {
  try {
    if (type === "json") return applyJsonPatch(scale as Json, body);
    return applyMergePatch(scale as Json, body as Json); // Scale has no lists: SMP = merge
  } catch (err) {
    if (err instanceof PatchError)
      throw new StatusError(
        err.code === 409 ? 422 : err.code,
        err.code === 400 ? "BadRequest" : "Invalid",
        err.message,
      );
    throw err;
  }
}
