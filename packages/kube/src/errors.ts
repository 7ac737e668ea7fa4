import { ApiException } from "@kubernetes/client-node";
import {
  AlreadyExistsError,
  AppError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  type ErrorCode,
} from "@pipecd-ts/runtime";

/** The parts of a `Status` body (reference §3.2) this package reads. */
interface Status {
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/** An error mapped to the closed set of AppErrors, plus what the retry loop needs to know. */
export interface ClassifiedError {
  error: AppError;
  /** 409 Conflict (not AlreadyExists, not an SSA field conflict), 429, 500/502/503/504, network. */
  retryable: boolean;
  /** The server's Retry-After (429), in ms. */
  retryAfterMs?: number;
}

/** The HTTP status of a failed client-node call (ApiException or a Watch error), if any. */
export function httpStatusOfError(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** Builds the AppError subclass of `code` (so `instanceof NotFoundError` keeps working). */
export function appError(code: ErrorCode, message: string, cause?: unknown): AppError {
  const o = { cause };
  switch (code) {
    case "INVALID_ARGUMENT":
      return new InvalidArgumentError(message, o);
    case "NOT_FOUND":
      return new NotFoundError(message, o);
    case "ALREADY_EXISTS":
      return new AlreadyExistsError(message, o);
    case "FAILED_PRECONDITION":
      return new FailedPreconditionError(message, o);
    case "PERMISSION_DENIED":
      return new PermissionDeniedError(message, o);
    case "UNAUTHENTICATED":
      return new UnauthenticatedError(message, o);
    case "UNAVAILABLE":
      return new UnavailableError(message, o);
    case "DEADLINE_EXCEEDED":
      return new DeadlineExceededError(message, o);
    case "INTERNAL":
      return new InternalError(message, o);
    case "RESOURCE_EXHAUSTED":
    case "CANCELLED":
      return new AppError(code, message, o);
  }
}

function parseStatus(body: unknown): Status | undefined {
  if (typeof body === "object" && body !== null) return body;
  if (typeof body !== "string" || body === "") return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === "object" && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

function headerOf(err: unknown, name: string): string | undefined {
  const h = (err as { headers?: Record<string, unknown> } | null)?.headers;
  const v = h?.[name] ?? h?.[name.toLowerCase()];
  return typeof v === "string" ? v : undefined;
}

/** Whether a 409 Status is a server-side-apply field-manager conflict (never worth retrying). */
function isApplyConflict(s: Status | undefined): boolean {
  if (s?.details?.causes?.some((c) => c.reason === "FieldManagerConflict")) return true;
  return s?.message?.startsWith("Apply failed with") ?? false;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // node-fetch wraps socket errors in a FetchError of type "system" with the errno code.
  const e = err as Error & { type?: string; code?: string; errno?: string };
  if (e.name === "FetchError" && e.type !== "invalid-json" && e.type !== "max-redirect")
    return true;
  return NETWORK_CODES.has(e.code ?? "") || NETWORK_CODES.has(e.errno ?? "");
}

/**
 * Maps any failure of a client-node call to an AppError whose message is `what: <API message>`
 * (the Status `message` is kept verbatim, e.g. `... "web" is invalid: spec.http[0]...`), and says
 * whether it may be retried. AppErrors pass through (re-prefixed when they lack `what`).
 */
export function classifyError(what: string, err: unknown): ClassifiedError {
  if (err instanceof AppError) {
    const error = err.message.startsWith(what)
      ? err
      : appError(err.code, `${what}: ${err.message}`, err);
    return { error, retryable: false };
  }
  const status = httpStatusOfError(err);
  if (status === undefined) {
    if (isNetworkError(err)) {
      const why = err instanceof Error ? err.message : String(err);
      return { error: new UnavailableError(`${what}: ${why}`, { cause: err }), retryable: true };
    }
    const why = err instanceof Error ? err.message : String(err);
    return { error: new InternalError(`${what}: ${why}`, { cause: err }), retryable: false };
  }
  const body = parseStatus((err as { body?: unknown }).body);
  const apiMsg = body?.message || statusText(status);
  const msg = `${what}: ${apiMsg}`;
  const make = (code: ErrorCode, retryable = false, retryAfterMs?: number): ClassifiedError => ({
    error: appError(code, msg, err),
    retryable,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
  switch (status) {
    case 400:
    case 405:
    case 406:
    case 413:
    case 415:
      return make("INVALID_ARGUMENT");
    case 401:
      return make("UNAUTHENTICATED");
    case 403:
      return make("PERMISSION_DENIED");
    case 404:
      return make("NOT_FOUND");
    case 409:
      if (body?.reason === "AlreadyExists") return make("ALREADY_EXISTS");
      // A stale write (optimistic concurrency) may pass on a fresh attempt; a field-manager
      // conflict will not, until someone forces or the other manager lets go.
      return make("FAILED_PRECONDITION", !isApplyConflict(body));
    case 410:
    case 412:
    case 422:
      return make("FAILED_PRECONDITION");
    case 429: {
      const header = Number(headerOf(err, "retry-after"));
      const seconds =
        Number.isFinite(header) && header > 0 ? header : body?.details?.retryAfterSeconds;
      return make("RESOURCE_EXHAUSTED", true, seconds ? seconds * 1000 : undefined);
    }
    case 500:
    case 502:
    case 503:
    case 504:
      return make("UNAVAILABLE", true);
    default:
      return make(status >= 500 ? "UNAVAILABLE" : "INTERNAL");
  }
}

function statusText(code: number): string {
  if (code === 401) return "Unauthorized";
  return `HTTP ${code}`;
}
