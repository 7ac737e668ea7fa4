/**
 * The closed set of error codes used across the product. Code throws {@link AppError}s; one
 * function maps a code to a gRPC status and one to an HTTP status (connect-es `code.ts` style).
 */
export const ErrorCodes = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "PERMISSION_DENIED",
  "UNAUTHENTICATED",
  "RESOURCE_EXHAUSTED",
  "DEADLINE_EXCEEDED",
  "CANCELLED",
  "UNAVAILABLE",
  "INTERNAL",
] as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** A typed error: `message` is safe to show to callers, `cause` is logged and never sent. */
export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = `AppError(${code})`;
  }
}

/** The caller sent something malformed or impossible. */
export class InvalidArgumentError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
  }
}
/** The named entity does not exist (or the caller may not know it exists). */
export class NotFoundError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NOT_FOUND", message, options);
  }
}
/** An entity with that identity exists already. */
export class AlreadyExistsError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ALREADY_EXISTS", message, options);
  }
}
/** The system is not in a state that allows the operation (e.g. an illegal status transition). */
export class FailedPreconditionError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("FAILED_PRECONDITION", message, options);
  }
}
/** The caller is known but may not do this. */
export class PermissionDeniedError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PERMISSION_DENIED", message, options);
  }
}
/** The caller is not (validly) authenticated. */
export class UnauthenticatedError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNAUTHENTICATED", message, options);
  }
}
/** A dependency is unreachable; retrying later may work. */
export class UnavailableError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("UNAVAILABLE", message, options);
  }
}
/** A deadline passed before the operation finished. */
export class DeadlineExceededError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DEADLINE_EXCEEDED", message, options);
  }
}
/** A bug or an unexpected failure; details are logged, never sent. */
export class InternalError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INTERNAL", message, options);
  }
}

/** gRPC status codes (stable across implementations, see grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Maps an error code to its gRPC status code. */
export function grpcStatusOf(code: ErrorCode): number {
  switch (code) {
    case "INVALID_ARGUMENT":
      return GrpcStatus.INVALID_ARGUMENT;
    case "NOT_FOUND":
      return GrpcStatus.NOT_FOUND;
    case "ALREADY_EXISTS":
      return GrpcStatus.ALREADY_EXISTS;
    case "FAILED_PRECONDITION":
      return GrpcStatus.FAILED_PRECONDITION;
    case "PERMISSION_DENIED":
      return GrpcStatus.PERMISSION_DENIED;
    case "UNAUTHENTICATED":
      return GrpcStatus.UNAUTHENTICATED;
    case "RESOURCE_EXHAUSTED":
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case "DEADLINE_EXCEEDED":
      return GrpcStatus.DEADLINE_EXCEEDED;
    case "CANCELLED":
      return GrpcStatus.CANCELLED;
    case "UNAVAILABLE":
      return GrpcStatus.UNAVAILABLE;
    case "INTERNAL":
      return GrpcStatus.INTERNAL;
  }
}

/** Maps a gRPC status code (as seen by a client) back to an error code. */
export function errorCodeOfGrpcStatus(status: number): ErrorCode {
  switch (status) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return "INVALID_ARGUMENT";
    case GrpcStatus.NOT_FOUND:
      return "NOT_FOUND";
    case GrpcStatus.ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.ABORTED:
      return "FAILED_PRECONDITION";
    case GrpcStatus.PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case GrpcStatus.UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case GrpcStatus.CANCELLED:
      return "CANCELLED";
    case GrpcStatus.UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "INTERNAL";
  }
}

/** Maps an error code to its HTTP status. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case "INVALID_ARGUMENT":
      return 400;
    case "UNAUTHENTICATED":
      return 401;
    case "PERMISSION_DENIED":
      return 403;
    case "NOT_FOUND":
      return 404;
    case "ALREADY_EXISTS":
      return 409;
    case "FAILED_PRECONDITION":
      return 412;
    case "RESOURCE_EXHAUSTED":
      return 429;
    case "CANCELLED":
      return 499;
    case "INTERNAL":
      return 500;
    case "UNAVAILABLE":
      return 503;
    case "DEADLINE_EXCEEDED":
      return 504;
  }
}

/** Maps an HTTP status (as seen by a client) back to an error code. */
export function errorCodeOfHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ALREADY_EXISTS";
    case 412:
      return "FAILED_PRECONDITION";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "INTERNAL";
  }
}

/** Whether `code` names a condition worth retrying with backoff. */
export function isRetryableCode(code: ErrorCode): boolean {
  return code === "UNAVAILABLE" || code === "DEADLINE_EXCEEDED" || code === "RESOURCE_EXHAUSTED";
}

/** Returns `err` as an AppError, wrapping anything else as INTERNAL (its message is not sent). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new InternalError("internal error", { cause: err });
}
