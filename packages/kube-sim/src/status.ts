import { qualifiedResource, type ResourceType } from "./registry.js";

/** A Kubernetes Status failure, thrown by handlers and rendered as the response body. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The Status body, exactly as apimachinery renders it. */
  body(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

type T = Pick<ResourceType, "group" | "resource">;
const det = (t: T, name?: string) => ({
  ...(name !== undefined ? { name } : {}),
  group: t.group || undefined,
  kind: t.resource,
});

/** 404 for an object. */
export const notFound = (t: T, name: string): StatusError =>
  new StatusError(
    404,
    "NotFound",
    `${qualifiedResource(t)} "${name}" not found`,
    strip(det(t, name)),
  );

/** 404 for an unknown path. */
export const pathNotFound = (): StatusError =>
  new StatusError(404, "NotFound", "the server could not find the requested resource", {});

/** 409 on create of an existing name. */
export const alreadyExists = (t: T, name: string): StatusError =>
  new StatusError(
    409,
    "AlreadyExists",
    `${qualifiedResource(t)} "${name}" already exists`,
    strip(det(t, name)),
  );

/** 409 on a stale resourceVersion. */
export const conflict = (
  t: T,
  name: string,
  why = "the object has been modified; please apply your changes to the latest version and try again",
): StatusError =>
  new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(t)} "${name}": ${why}`,
    strip(det(t, name)),
  );

/** 400 with no details. */
export const badRequest = (message: string): StatusError =>
  new StatusError(400, "BadRequest", message);

/** 422 Invalid with causes. */
export const invalid = (
  kindWithGroup: string,
  t: Pick<ResourceType, "group">,
  kind: string,
  name: string,
  causes: { reason: string; message: string; field: string }[],
): StatusError => {
  const rendered = causes.map((c) => `${c.field}: ${c.message}`);
  const message = `${kindWithGroup} "${name}" is invalid: ${rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`}`;
  return new StatusError(
    422,
    "Invalid",
    message,
    strip({ name, group: t.group || undefined, kind, causes }),
  );
};

/** 415 for an unsupported patch/body type. */
export const unsupportedMediaType = (builtin: boolean): StatusError =>
  new StatusError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, ${builtin ? "application/strategic-merge-patch+json, " : ""}application/apply-patch+yaml`,
  );

/** 405. */
export const methodNotAllowed = (method: string): StatusError =>
  new StatusError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource (${method})`,
    {},
  );

/** 401. */
export const unauthorized = (): StatusError => new StatusError(401, "Unauthorized", "Unauthorized");

/** 410 for an expired resourceVersion / continue token. */
export const gone = (message: string): StatusError => new StatusError(410, "Expired", message);

function strip(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
