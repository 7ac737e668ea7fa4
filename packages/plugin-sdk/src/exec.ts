import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { basename } from "node:path";
import {
  AppError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  formatSeconds,
} from "@pipecd-ts/runtime";

/** Largest stdout (and, separately, stderr) a tool may print before it is killed. */
export const MAX_TOOL_OUTPUT_BYTES = 64 << 20;

/** How long a child has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 2_000;

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Working directory of the child. */
  readonly cwd?: string;
  /** Variables added to (or overriding) the inherited environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Deadline of this one call; the child is killed when it passes. */
  readonly timeoutMs: number;
  /** Aborting kills the child (SIGTERM, then SIGKILL after ~2 s). */
  readonly signal?: AbortSignal;
  /** Written to the child's stdin, which is then closed (used for passwords, never argv). */
  readonly stdin?: string;
  /** What the call is, for messages ("helm template"); default `<basename(file)> <args[0]>`. */
  readonly what?: string;
  /** Defaults to {@link MAX_TOOL_OUTPUT_BYTES}. */
  readonly maxOutputBytes?: number;
  /**
   * Receives the output as it comes (a script's output streamed into its stage log), each chunk
   * as written; it is then not kept, so the result's stdout and stderr are empty and no output
   * limit applies.
   */
  readonly onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
}

/** What a tool printed. */
export interface ToolOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Why {@link runTool} failed. */
export type ToolFailure = "exit" | "timeout" | "aborted" | "output-limit" | "spawn";

/** A tool run that did not exit 0: carries the exit code and stderr (trimmed). */
export class ToolError extends Error {
  readonly failure: ToolFailure;
  /** What ran ("helm template"). */
  readonly what: string;
  /** Exit code, or null when the child was killed or never started. */
  readonly exitCode: number | null;
  /** stderr, trimmed. */
  readonly stderr: string;
  readonly stdout: string;

  constructor(
    failure: ToolFailure,
    what: string,
    message: string,
    fields: { exitCode: number | null; stderr: string; stdout: string; cause?: unknown },
  ) {
    super(message, { cause: fields.cause });
    this.name = "ToolError";
    this.failure = failure;
    this.what = what;
    this.exitCode = fields.exitCode;
    this.stderr = fields.stderr;
    this.stdout = fields.stdout;
  }

  /**
   * The tool's own message: stderr with its error lines first (kustomize prints deprecation
   * warnings before the cause, and a plan reason is read from its start), else the failure
   * description.
   */
  get toolMessage(): string {
    if (this.failure !== "exit" || this.stderr === "") return this.message;
    const lines = this.stderr.split("\n");
    const isError = (l: string): boolean => /^\s*error\b/i.test(l);
    return [...lines.filter(isError), ...lines.filter((l) => !isError(l))].join("\n").trim();
  }
}

/**
 * Runs `file args` without a shell and resolves with its output when it exits 0. Every call has
 * a deadline; `signal` kills the child. The child runs in its own process group so that killing
 * it also stops what it started (kustomize's `git`, helm's plugins), and so that it has no
 * terminal to prompt on. Throws a {@link ToolError}.
 */
export function runTool(
  file: string,
  args: readonly string[],
  opts: RunToolOptions,
): Promise<ToolOutput> {
  const what = opts.what ?? `${basename(file)}${args[0] === undefined ? "" : ` ${args[0]}`}`;
  const limit = opts.maxOutputBytes ?? MAX_TOOL_OUTPUT_BYTES;
  return new Promise<ToolOutput>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    const text = (): { stdout: string; stderr: string } => ({
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(err).toString("utf8").trim(),
    });
    if (opts.signal?.aborted) {
      reject(
        new ToolError("aborted", what, `${what} was stopped before it started`, {
          exitCode: null,
          stderr: "",
          stdout: "",
          cause: opts.signal.reason,
        }),
      );
      return;
    }

    const child = spawn(file, args, {
      cwd: opts.cwd,
      // The one place a child's environment is built: inherited, plus the caller's variables.
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });

    // Set once: the reason the child is being stopped (the first one wins).
    let stopping: { failure: ToolFailure; message: string; cause?: unknown } | undefined;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let forceTimer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // Already gone.
        }
      }
    };
    const stop = (failure: ToolFailure, message: string, cause?: unknown): void => {
      if (stopping || settled) return;
      stopping = { failure, message, cause };
      killGroup("SIGTERM");
      killTimer = setTimeout(() => {
        killGroup("SIGKILL");
        // A grandchild in another group could keep the pipes open: give up on them.
        forceTimer = setTimeout(() => finish(null, null), KILL_GRACE_MS);
      }, KILL_GRACE_MS);
    };

    const deadline = setTimeout(
      () => stop("timeout", `${what} timed out after ${formatSeconds(opts.timeoutMs)} s`),
      opts.timeoutMs,
    );
    const onAbort = (): void => {
      const reason: unknown = opts.signal?.reason;
      const why = reason instanceof Error ? reason.message : String(reason);
      stop("aborted", `${what} was stopped: ${why}`, reason);
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    function finish(code: number | null, sig: NodeJS.Signals | null, spawnError?: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(killTimer);
      clearTimeout(forceTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      const { stdout, stderr } = text();
      if (spawnError) {
        reject(
          new ToolError("spawn", what, `unable to start ${file}: ${spawnError.message}`, {
            exitCode: null,
            stderr,
            stdout,
            cause: spawnError,
          }),
        );
        return;
      }
      if (stopping) {
        reject(
          new ToolError(stopping.failure, what, stopping.message, {
            exitCode: code,
            stderr,
            stdout,
            cause: stopping.cause,
          }),
        );
        return;
      }
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const status = code === null ? `was killed by ${sig ?? "a signal"}` : `exited with ${code}`;
      reject(
        new ToolError("exit", what, `${what} ${status}${stderr ? `: ${stderr}` : ""}`, {
          exitCode: code,
          stderr,
          stdout,
        }),
      );
    }

    if (opts.onOutput) {
      const onOutput = opts.onOutput;
      const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
      for (const stream of ["stdout", "stderr"] as const)
        child[stream].on("data", (b: Buffer) => {
          const text = decoders[stream].write(b);
          if (text !== "") onOutput(text, stream);
        });
    } else {
      collectOutput();
    }
    function collectOutput(): void {
      child.stdout.on("data", (b: Buffer) => {
        outBytes += b.length;
        if (outBytes > limit) stop("output-limit", `${what} printed more than ${limit} bytes`);
        else out.push(b);
      });
      child.stderr.on("data", (b: Buffer) => {
        errBytes += b.length;
        if (errBytes > limit) stop("output-limit", `${what} printed more than ${limit} bytes`);
        else err.push(b);
      });
    }
    child.on("error", (e) => finish(null, null, e));
    child.on("close", (code, sig) => finish(code, sig));
    // A child that exits without reading its stdin makes the write fail with EPIPE: harmless.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.stdin ?? "");
  });
}

/**
 * Maps a failed tool run to the product's error codes: a non-zero exit is the user's input
 * (`<prefix>: <the tool's stderr>`), a timeout is DEADLINE_EXCEEDED, an abort is CANCELLED, a
 * binary that cannot start is FAILED_PRECONDITION. Anything else is returned as is.
 */
export function toolErrorToAppError(e: unknown, prefix: string): unknown {
  if (!(e instanceof ToolError)) return e;
  switch (e.failure) {
    case "exit":
    case "output-limit":
      return new InvalidArgumentError(`${prefix}: ${e.toolMessage}`, { cause: e });
    case "timeout":
      return new DeadlineExceededError(e.message, { cause: e });
    case "aborted":
      return new AppError("CANCELLED", e.message, { cause: e });
    case "spawn":
      return new FailedPreconditionError(e.message, { cause: e });
  }
}
