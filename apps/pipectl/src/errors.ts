import { RestError } from "@pipecd-ts/rest-api";

/**
 * Exit codes of pipectl (a stable contract, documented in docs/pipectl.md): scripts can tell a
 * typo from a refused key from a control plane that is down.
 */
export const ExitCode = {
  OK: 0,
  /** The control plane answered with an error (not found, failed precondition, bad argument…). */
  API_ERROR: 1,
  /** Bad command line: unknown command or flag, missing argument, no API key. */
  USAGE: 2,
  /** The control plane could not be reached, did not answer in time, or is unavailable (503). */
  UNAVAILABLE: 3,
  /** The API key was refused (401) or lacks the role the operation needs (403). */
  AUTH: 4,
  /** `deployment wait`: the deployment ended with a status other than the one waited for. */
  WRONG_STATUS: 5,
  /** `deployment wait`: the deployment did not reach the status within --timeout. */
  WAIT_TIMEOUT: 6,
} as const;

/** One of {@link ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake on the command line; printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The `--help` to point at, e.g. "pipectl stage approve --help". */
    readonly helpHint = "pipectl --help",
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** An error whose message is meant for the user as is, with a chosen exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** How a request failure is shown: the message for stderr and the exit code. */
export interface Failure {
  message: string;
  exitCode: ExitCodeValue;
}

/** Node's fetch reports network failures as `TypeError("fetch failed", { cause })`. */
function networkCause(err: unknown): string | undefined {
  if (!(err instanceof TypeError)) return undefined;
  // undici: "fetch failed" when connecting, "terminated" when the connection drops mid-body.
  if (err.message === "terminated") return "the connection was closed";
  if (err.message !== "fetch failed") return undefined;
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : "";
  const msg = typeof cause?.message === "string" ? cause.message : "network error";
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused (is pipecd-server running there?)`;
    case "ENOTFOUND":
      return `host not found`;
    case "ECONNRESET":
      return `connection reset`;
    default:
      return code ? `${msg} (${code})` : msg;
  }
}

/** Whether `err` is the timeout of an `AbortSignal.timeout()`. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === "TimeoutError";
}

/**
 * Maps any error thrown while talking to the control plane to what the user sees. The server's
 * own message is printed as is (it is written for users, DESIGN §5).
 */
export function describeFailure(err: unknown, address: string, requestTimeoutMs: number): Failure {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof RestError) {
    const where = `${err.code}, HTTP ${err.status}`;
    if (err.status === 401)
      return {
        message: `${err.message} (${where}); check --api-key / --api-key-file / PIPECD_API_KEY`,
        exitCode: ExitCode.AUTH,
      };
    if (err.status === 403)
      return { message: `${err.message} (${where})`, exitCode: ExitCode.AUTH };
    if (err.code === "UNAVAILABLE")
      return {
        message: `the control plane at ${address} is unavailable: ${err.message} (${where})`,
        exitCode: ExitCode.UNAVAILABLE,
      };
    return { message: `${err.message} (${where})`, exitCode: ExitCode.API_ERROR };
  }
  if (isTimeout(err))
    return {
      message: `the control plane at ${address} did not answer within ${requestTimeoutMs / 1000}s (--request-timeout)`,
      exitCode: ExitCode.UNAVAILABLE,
    };
  const net = networkCause(err);
  if (net !== undefined)
    return {
      message: `cannot reach the control plane at ${address}: ${net}`,
      exitCode: ExitCode.UNAVAILABLE,
    };
  return {
    message: `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
    exitCode: ExitCode.API_ERROR,
  };
}

/** Whether a failure is worth retrying while waiting (the control plane may be restarting). */
export function isTransient(err: unknown): boolean {
  if (err instanceof RestError) return err.code === "UNAVAILABLE" || err.status >= 500;
  return isTimeout(err) || networkCause(err) !== undefined;
}
