import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import {
  DeadlineExceededError,
  InvalidArgumentError,
  UnavailableError,
  formatSeconds,
} from "@pipecd-ts/runtime";

/** PipeCD's default per-call timeout of an ANALYSIS http entry (`analysisprovider/http`). */
const DEFAULT_HTTP_CHECK_TIMEOUT_MS = 30_000;
/** How much of an http check's response body is read (and thrown away) before the socket is closed. */
const HTTP_CHECK_MAX_BODY_BYTES = 1 << 20;

/** A response read by {@link sendRequest}. */
export interface HttpResponse {
  readonly status: number;
  /** The body, at most `maxBodyBytes` long. */
  readonly body: Buffer;
  /** True when the body was longer than `maxBodyBytes` and the rest was not read. */
  readonly truncated: boolean;
}

/** Options of {@link sendRequest}. */
export interface SendRequestOptions {
  /** Names the call in error messages (`prometheus query`); never holds a secret. */
  readonly what: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Bound of the whole call: connect, headers and body. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Accept any TLS certificate for this call only (a dedicated agent, never the global one). */
  readonly insecureSkipVerify?: boolean;
  readonly maxBodyBytes: number;
}

/**
 * Sends one HTTP(S) request and reads its body up to `maxBodyBytes`. Rejects with a
 * DeadlineExceededError `<what> timed out after N s` when `timeoutMs` passes, with the
 * signal's reason when `signal` aborts, and with an UnavailableError for network and TLS
 * failures. Messages never carry the URL, so credentials in it or in headers cannot leak.
 */
export function sendRequest(url: string, o: SendRequestOptions): Promise<HttpResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new InvalidArgumentError(`${o.what}: invalid URL`));
  }
  if (target.protocol !== "http:" && target.protocol !== "https:")
    return Promise.reject(
      new InvalidArgumentError(`${o.what}: unsupported URL scheme ${target.protocol}`),
    );
  if (o.signal?.aborted) return Promise.reject(abortError(o.what, o.signal));

  return new Promise<HttpResponse>((resolve, reject) => {
    const insecureAgent =
      o.insecureSkipVerify && target.protocol === "https:"
        ? new HttpsAgent({ rejectUnauthorized: false, keepAlive: false })
        : undefined;
    let settled = false;
    const finish = (err: Error | undefined, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      insecureAgent?.destroy();
      if (err) reject(err);
      else if (res) resolve(res);
    };
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(target, {
      method: o.method ?? "GET",
      headers: { ...o.headers },
      // One connection per call: analyses query once per interval, and no socket outlives it.
      agent: insecureAgent ?? false,
    });
    const timer = setTimeout(() => {
      finish(
        new DeadlineExceededError(`${o.what} timed out after ${formatSeconds(o.timeoutMs)} s`),
      );
      req.destroy();
    }, o.timeoutMs);
    const onAbort = (): void => {
      if (o.signal) finish(abortError(o.what, o.signal));
      req.destroy();
    };
    o.signal?.addEventListener("abort", onAbort, { once: true });

    req.on("error", (err) =>
      finish(new UnavailableError(`${o.what} failed: ${err.message}`, { cause: err })),
    );
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        const room = o.maxBodyBytes - size;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size = o.maxBodyBytes;
          finish(undefined, {
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            truncated: true,
          });
          res.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on("end", () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          truncated: false,
        }),
      );
      res.on("error", (err) =>
        finish(new UnavailableError(`${o.what} failed: ${err.message}`, { cause: err })),
      );
    });
    req.end();
  });
}

/** Bound of a JSON API answer held in memory (a window of minutes is a few kB). */
const MAX_JSON_RESPONSE_BYTES = 32 << 20;

/** A JSON API answer read by {@link getJson}. */
export interface JsonResponse<T> {
  readonly status: number;
  /** The parsed body; undefined when it is not JSON (a proxy's HTML page) or was cut off. */
  readonly json: T | undefined;
  /** What to show of a body that is not the API's own error: its start, or why there is none. */
  readonly excerpt: string;
}

/** A GET of a JSON API through {@link sendRequest}, the body parsed and capped at 32 MB. */
export async function getJson<T>(
  url: string,
  o: Omit<SendRequestOptions, "method" | "maxBodyBytes">,
): Promise<JsonResponse<T>> {
  const res = await sendRequest(url, {
    ...o,
    headers: { accept: "application/json", ...o.headers },
    maxBodyBytes: MAX_JSON_RESPONSE_BYTES,
  });
  if (res.truncated)
    return {
      status: res.status,
      json: undefined,
      excerpt: `response larger than ${MAX_JSON_RESPONSE_BYTES} bytes`,
    };
  const text = res.body.toString("utf8");
  let json: T | undefined;
  try {
    json = JSON.parse(text) as T;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, excerpt: text.trim().slice(0, 300) || "empty response" };
}

function abortError(what: string, signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new Error(`${what} was aborted: ${String(reason)}`);
}

/** One `headers[]` entry of an ANALYSIS http entry. */
export interface HttpCheckHeader {
  readonly key: string;
  readonly value: string;
}

/** Input of {@link httpCheck} (PipeCD `AnalysisHTTP`, compiled). */
export interface HttpCheckOptions {
  readonly url: string;
  /** Default `GET`. */
  readonly method?: string;
  /** Set in order, so a repeated key (any case) keeps its last value (Go `Header.Set`). */
  readonly headers?: readonly HttpCheckHeader[];
  /** The status that passes; 0 or unset means 200. */
  readonly expectedCode?: number;
  /** Default 30 s. */
  readonly timeoutMs?: number;
  readonly insecureSkipVerify?: boolean;
  /** When set, the response body (its first 1 MB) must contain it. */
  readonly expectedResponse?: string;
  readonly signal?: AbortSignal;
}

/** The verdict of one {@link httpCheck}. */
export interface HttpCheckResult {
  readonly ok: boolean;
  /** Why, for the stage log; never holds the URL or header values. */
  readonly reason: string;
  /** The response status, when there was a response. */
  readonly status?: number;
}

/**
 * One tick of an ANALYSIS `https[]` entry (PipeCD `analysisprovider/http`): sends the request
 * and passes iff the status equals `expectedCode`; otherwise `unexpected status code N`.
 * Network errors and timeouts are failures with their reason, never exceptions; only the
 * caller's own abort rejects (with the signal's reason). The body is read up to 1 MB; with
 * `expectedResponse` it must contain that text (PipeCD parses the field and never checks it).
 */
export async function httpCheck(o: HttpCheckOptions): Promise<HttpCheckResult> {
  const expected = o.expectedCode || 200;
  const headers: Record<string, string> = {};
  for (const h of o.headers ?? []) headers[h.key.toLowerCase()] = h.value;
  try {
    const res = await sendRequest(o.url, {
      what: "http check",
      method: o.method || "GET",
      headers,
      timeoutMs: o.timeoutMs || DEFAULT_HTTP_CHECK_TIMEOUT_MS,
      signal: o.signal,
      insecureSkipVerify: o.insecureSkipVerify,
      maxBodyBytes: HTTP_CHECK_MAX_BODY_BYTES,
    });
    if (res.status !== expected)
      return { ok: false, reason: `unexpected status code ${res.status}`, status: res.status };
    if (o.expectedResponse && !res.body.includes(o.expectedResponse))
      return {
        ok: false,
        reason: `status code ${res.status}, but the response does not contain the expected text`,
        status: res.status,
      };
    return { ok: true, reason: `status code ${res.status} as expected`, status: res.status };
  } catch (err) {
    if (o.signal?.aborted) throw err;
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
