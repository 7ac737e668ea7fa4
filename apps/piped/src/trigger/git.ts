import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  AppError,
  DeadlineExceededError,
  InvalidArgumentError,
  UnavailableError,
  type Logger,
} from "@pipecd-ts/runtime";

/** A commit as the trigger and planner need it. */
export interface CommitInfo {
  hash: string;
  author: string;
  message: string;
  /** Commit time. */
  createdAt: Date;
}

/** Runs git with a timeout; rejects with a typed error carrying git's stderr. */
export function git(
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      args,
      {
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 << 20,
        signal: opts.signal,
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
        // Never the command line (nor execFile's error, whose message holds it): a remote may
        // carry a token. git itself strips credentials from what it prints.
        const what = `git ${args.slice(0, 2).join(" ")}`;
        if (e.killed || e.signal === "SIGTERM")
          reject(new DeadlineExceededError(`${what} timed out`));
        else if (e.code === "ENOENT") reject(new UnavailableError("the git CLI is not installed"));
        else
          reject(
            new AppError(
              "FAILED_PRECONDITION",
              `${what} failed: ${stderr.trim() || `exit code ${String(e.code)}`}`,
            ),
          );
      },
    );
  });
}

/**
 * One configured repository: a bare mirror (fetched every sync interval) and detached worktrees
 * per commit for planners and stages (PipeCD `pkg/git`).
 */
export class GitRepo {
  private readonly mirror: string;

  constructor(
    readonly repoId: string,
    readonly remote: string,
    readonly branch: string,
    private readonly cacheDir: string,
    private readonly logger: Logger,
  ) {
    if (!/^[A-Za-z0-9._-]+$/.test(repoId))
      throw new InvalidArgumentError(`repository id "${repoId}" must be [A-Za-z0-9._-]+`);
    this.mirror = join(cacheDir, `${repoId}.git`);
  }

  /** Clones the mirror if needed, then fetches. */
  async sync(): Promise<void> {
    if (!existsSync(join(this.mirror, "HEAD"))) {
      await mkdir(this.cacheDir, { recursive: true });
      this.logger.info({ repoId: this.repoId }, "cloning repository mirror");
      await git(["clone", "--mirror", "--quiet", this.remote, this.mirror], { timeoutMs: 300_000 });
      return;
    }
    await git(["remote", "update", "--prune"], { cwd: this.mirror, timeoutMs: 120_000 });
  }

  /** The commit the branch points to. */
  async head(): Promise<string> {
    return (await git(["rev-parse", `refs/heads/${this.branch}`], { cwd: this.mirror })).trim();
  }

  /** Author, message and time of a commit. */
  async commit(hash: string): Promise<CommitInfo> {
    const out = await git(["log", "-1", "--format=%H%x00%an%x00%ct%x00%B", hash], {
      cwd: this.mirror,
    });
    const [h = hash, author = "", ct = "0", message = ""] = out.split("\0");
    return { hash: h, author, message: message.trim(), createdAt: new Date(Number(ct) * 1000) };
  }

  /** Files changed between two commits. */
  async changedFiles(from: string, to: string): Promise<string[]> {
    const out = await git(["diff", "--name-only", `${from}`, `${to}`], { cwd: this.mirror });
    return out.split("\n").filter(Boolean);
  }

  /** A file's content at a commit, or undefined if it does not exist there. */
  async readFile(commit: string, path: string): Promise<string | undefined> {
    try {
      return await git(["show", `${commit}:${path}`], { cwd: this.mirror });
    } catch (err) {
      if (err instanceof AppError && err.code === "FAILED_PRECONDITION") return undefined;
      throw err;
    }
  }

  /** Checks out `commit` into a new temporary worktree; `remove()` deletes it. */
  async checkout(
    commit: string,
    workDir: string,
  ): Promise<{ dir: string; remove(): Promise<void> }> {
    await mkdir(workDir, { recursive: true });
    const dir = await mkdtemp(join(workDir, `${this.repoId}-`));
    await git(["worktree", "add", "--detach", "--force", dir, commit], {
      cwd: this.mirror,
      timeoutMs: 120_000,
    });
    return {
      dir,
      remove: async () => {
        await git(["worktree", "remove", "--force", dir], { cwd: this.mirror }).catch(
          () => undefined,
        );
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
