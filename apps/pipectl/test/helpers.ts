import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@pipecd-ts/testkit";

/** What a pipectl run printed and how it exited. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A pipectl process still running (e.g. `deployment wait`). */
export interface Running {
  /** Everything printed on stderr so far. */
  stderr(): string;
  done: Promise<Run>;
}

/**
 * Starts the real launcher `bin/pipectl` with a clean environment: only PATH and HOME plus
 * `env`, so a PIPECD_* variable of the machine never leaks into a test.
 */
export function start(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Running {
  const proc = spawn(join(repoRoot(), "bin", "pipectl"), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const done = new Promise<Run>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { stderr: () => stderr, done };
}

/** Runs `bin/pipectl` to the end. */
export function pipectl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return start(args, env).done;
}

/** Parses stdout of a `-o json` run, failing with the run's output if it is not JSON. */
export function json<T = Record<string, unknown>>(r: Run): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${String(r.code)}):\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  }
}
