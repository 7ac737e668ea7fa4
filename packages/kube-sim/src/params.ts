import { badRequest } from "./status.js";

/**
 * Every query parameter kube-sim reads, with the type the API server converts it to. The API
 * server decodes query strings with apimachinery's runtime/conversion.go, and so does this:
 * - bool: absent is false; "false" and "0" (any case) are false; anything else is true, an
 *   empty value too (`?watch` and `?watch=True` both watch). It is not strconv.ParseBool.
 * - int64: strconv.ParseInt(s, 10, 64); a bad value is a 400 BadRequest.
 * - string: the first value; strings: every value (dryRun=All may repeat).
 * Reads go through {@link QueryParams}, which only knows these names (a test checks that no
 * handler reads the raw query string).
 */
export const QUERY_PARAMETERS = {
  watch: "bool",
  allowWatchBookmarks: "bool",
  sendInitialEvents: "bool",
  force: "bool",
  orphanDependents: "bool",
  follow: "bool",
  previous: "bool",
  timestamps: "bool",
  limit: "int64",
  timeoutSeconds: "int64",
  tailLines: "int64",
  limitBytes: "int64",
  sinceSeconds: "int64",
  labelSelector: "string",
  fieldSelector: "string",
  resourceVersion: "string",
  resourceVersionMatch: "string",
  continue: "string",
  fieldManager: "string",
  fieldValidation: "string",
  propagationPolicy: "string",
  container: "string",
  includeObject: "string",
  dryRun: "strings",
} as const;

type Params = typeof QUERY_PARAMETERS;
type NamesOf<T extends string> = {
  [K in keyof Params]: Params[K] extends T ? K : never;
}[keyof Params];

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Go's strconv.ParseInt(s, 10, 64), with its error texts. */
export function parseInt64(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s))
    throw badRequest(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > INT64_MAX || n < INT64_MIN)
    throw badRequest(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return Number(n);
}

/** The API server's query-string boolean (see {@link QUERY_PARAMETERS}). */
export function parseQueryBool(s: string): boolean {
  const v = s.toLowerCase();
  return v !== "false" && v !== "0";
}

/** Go's %q of a plain string (enough for error texts). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** A request's query parameters, read by type as the API server reads them. */
export class QueryParams {
  readonly #q: URLSearchParams;

  /**
   * Decodes every known parameter up front, as the API server decodes a request's whole options
   * struct before serving it: a malformed integer fails the request even where unused.
   */
  constructor(q: URLSearchParams) {
    this.#q = q;
    for (const [name, type] of Object.entries(QUERY_PARAMETERS)) {
      const v = q.get(name);
      if (v !== null && type === "int64") parseInt64(v);
    }
  }

  has(name: keyof Params): boolean {
    return this.#q.has(name);
  }

  /** undefined when absent (some options are pointers on the server: absent ≠ false). */
  bool(name: NamesOf<"bool">): boolean | undefined {
    const v = this.#q.get(name);
    return v === null ? undefined : parseQueryBool(v);
  }

  int(name: NamesOf<"int64">): number | undefined {
    const v = this.#q.get(name);
    return v === null ? undefined : parseInt64(v);
  }

  str(name: NamesOf<"string">): string | undefined {
    return this.#q.get(name) ?? undefined;
  }

  strs(name: NamesOf<"strings">): string[] {
    return this.#q.getAll(name);
  }
}
