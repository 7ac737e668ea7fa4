import type { Static, TSchema } from "typebox";
import { AppError, errorCodeOfHttpStatus, type ErrorCode } from "@pipecd-ts/runtime";
import { Routes, type OperationId, type ResponseOf, type RouteDef } from "./routes.js";

type Def<K extends OperationId> = (typeof Routes)[K];
type Part<D, P extends "params" | "query" | "body"> =
  D extends Record<P, infer S> ? (S extends TSchema ? Static<S> : never) : never;

/** Arguments of an operation call: path params, query and body as its schemas define. */
export type RequestOf<K extends OperationId> = (Def<K> extends { params: unknown }
  ? { params: Part<Def<K>, "params"> }
  : { params?: undefined }) &
  (Def<K> extends { query: unknown } ? { query?: Part<Def<K>, "query"> } : { query?: undefined }) &
  (Def<K> extends { body: unknown } ? { body: Part<Def<K>, "body"> } : { body?: undefined });

/** An error answered by the REST API (`{"error":{"code","message"}}`). */
export class RestError extends AppError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** Options of {@link createRestClient}. */
export interface RestClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  apiKey?: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Extra headers (e.g. a session cookie). */
  headers?: Record<string, string>;
}

/** Typed client of the REST API; browser-safe. */
export interface RestClient {
  call<K extends OperationId>(
    op: K,
    req?: RequestOf<K>,
    signal?: AbortSignal,
  ): Promise<ResponseOf<K>>;
}

/** Builds the URL of a route with its params substituted and query encoded. */
export function routeUrl(
  def: RouteDef,
  params?: Record<string, string>,
  query?: Record<string, unknown>,
): string {
  let path = def.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new TypeError(`missing path parameter ${name} for ${def.path}`);
    return encodeURIComponent(v);
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? (v as unknown[]) : [v])
      qs.append(k, typeof item === "string" ? item : JSON.stringify(item));
  }
  const s = qs.toString();
  if (s) path += `?${s}`;
  return path;
}

/** Creates a typed REST client. */
export function createRestClient(opts: RestClientOptions): RestClient {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const base = opts.baseUrl.replace(/\/+$/, "");
  return {
    async call(op, req, signal) {
      const def = Routes[op] as RouteDef;
      const r = (req ?? {}) as {
        params?: Record<string, string>;
        query?: Record<string, unknown>;
        body?: unknown;
      };
      const url = base + routeUrl(def, r.params, r.query);
      const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
      if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
      let body: string | undefined;
      if (def.method !== "GET" && def.method !== "DELETE") {
        headers["content-type"] = "application/json";
        body = JSON.stringify(r.body ?? {});
      }
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
      const res = await doFetch(url, {
        method: def.method,
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        throw new RestError(
          res.status,
          errorCodeOfHttpStatus(res.status),
          `non-JSON response (HTTP ${res.status}): ${text.slice(0, 200)}`,
        );
      }
      if (!res.ok) {
        const err = (json as { error?: { code?: string; message?: string } }).error;
        throw new RestError(
          res.status,
          errorCodeOfHttpStatus(res.status),
          err?.message ?? `HTTP ${res.status}`,
        );
      }
      return json as ResponseOf<typeof op>;
    },
  };
}
